import type { GenerationContext } from '../generation/generation-context.js';
import type { OwnedHooks } from '../runtime/tokens.js';
import type { AdapterRegistry, Rejection } from '../spec/registry.js';
import type { FailoverOptions, LoadOptions } from '../spec/runtime.js';
import { ModelLoadError } from '../errors/model-load-error.js';
import { createTokenizer } from '../tokenizer/create-tokenizer.js';
import { DefaultWeftModel } from './default-weft-model.js';
import { parseGenerationConfig } from './generation-config.js';
import { readGraphIo } from './kv-layout.js';
import { parseModelConfig } from './model-config.js';
import { CHAT_TEMPLATE_FILE, findGraph, readJson, readJsonObject, type ExternalDataProblem, type ModelFolder } from './model-folder.js';
import { openModelFolder } from './open-model-folder.js';
import { readLoadTimeouts, type LoadTimeouts } from './load-timeouts.js';
import { fallbacksTakingOptions, readFailoverOptions } from './failover-options.js';
import { checkSessionOptions } from './session-options.js';
import { largestTokenizerId, tokenizerIdFarOut, tokenizerPastVocabulary } from './tokenizer-ids.js';
import { DEFAULT_TOKENIZER } from '../tokenizer/hf-tokenizer-entry.js';
import { checkKnownKeys } from '../util/known-keys.js';
import { quoteValue } from '../util/describe-cause.js';
import { openBackendSession, releaseWithin, takesNoExternalDataBytes } from './open-backend-session.js';
import type { LateSessions } from '../backend/late-sessions.js';
import { linkedAbortController } from '../util/linked-abort.js';
import { SessionPool } from '../backend/session-pool.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { BackendAdapter, ModelSource } from '../spec/backend.js';

function pickFallback(name: string, available: readonly BackendAdapter[], primary: string): BackendAdapter {
  if (name === primary) {
    throw new InvalidOptionsError(
      `Failover backend "${name}" is the backend this model loads on, not a fallback: list only the backends to continue on (available: ${available.map((a) => a.name).join(', ') || 'none'}).`,
      { option: 'failover.backends' },
    );
  }
  const adapter = available.find((a) => a.name === name);
  if (!adapter) {
    throw new InvalidOptionsError(
      `Failover backend "${name}" is not available here (available: ${available.map((a) => a.name).join(', ') || 'none'}).`,
      { option: 'failover.backends' },
    );
  }
  return adapter;
}

/**
 * The fallbacks that can open `source`: a graph whose external data comes as bytes (a URL folder)
 * leaves out backends that read it only from disk; naming one in `failover.backends` is refused.
 */
function fallbacksFor(source: ModelSource, fallbacks: readonly BackendAdapter[], named: boolean, graph: string): BackendAdapter[] {
  if (source.kind !== 'bytes' || !(source.externalData?.length ?? 0)) return [...fallbacks];
  const usable = fallbacks.filter((a) => !takesNoExternalDataBytes(a));
  if (named && usable.length < fallbacks.length) {
    const refused = fallbacks.filter((a) => !usable.includes(a)).map((a) => `"${a.name}"`);
    throw new InvalidOptionsError(
      `Failover backend ${refused.join(', ')} cannot open ${graph}: it reads external data files only from disk, and this graph's come over HTTP. Leave it out of failover.backends, or load the model from a folder on disk.`,
      { option: 'failover.backends' },
    );
  }
  return usable;
}

/** `rejected` with each fallback left out of failover saying why (after its reason for not being the one loaded on). */
function withLeftOut(rejected: readonly Rejection[], leftOut: readonly Rejection[]): readonly Rejection[] {
  if (leftOut.length === 0) return rejected;
  const listed = rejected.map((r) => {
    const out = leftOut.find((l) => l.name === r.name);
    return out === undefined ? r : Object.freeze({ name: r.name, reason: `${r.reason}; left out of failover: ${out.reason}` });
  });
  const unlisted = leftOut.filter((l) => !rejected.some((r) => r.name === l.name)).map((l) => Object.freeze({ name: l.name, reason: `left out of failover: ${l.reason}` }));
  return [...listed, ...unlisted];
}

/**
 * Whether the load's tokenizer is core's own (`huggingface`: tokenizer.json through
 * @huggingface/tokenizers). A name that resolves to nothing is createTokenizer's to report.
 */
function usesCoreTokenizer(registry: AdapterRegistry, name: string | undefined): boolean {
  try {
    const entry = registry.resolve('tokenizer', typeof name === 'string' ? { name } : undefined);
    return entry.owner === '@weft/core' && entry.name === DEFAULT_TOKENIZER;
  } catch {
    return false;
  }
}

/**
 * Throws `InvalidOptionsError` unless `value` is undefined or a non-empty string: `""` or null
 * would otherwise pick the default without a word, and a number a backend or file named "5".
 */
function checkName(value: unknown, option: 'backend' | 'onnxFile', what: string): void {
  if (value !== undefined && (typeof value !== 'string' || value === '')) {
    throw new InvalidOptionsError(`${option} must be ${what} (got ${quoteValue(value)}).`, { option });
  }
}

/**
 * `onnxFile` as a name within the folder: an absolute path (or, over HTTP, URL) inside it is made
 * relative; one outside it is an `InvalidOptionsError`.
 */
async function graphWithin(folder: ModelFolder, onnxFile: string): Promise<string> {
  const name = await folder.nameWithin(onnxFile);
  if (name === undefined) {
    throw new InvalidOptionsError(
      `onnxFile must be a path inside the model folder, relative to it, such as "onnx/model.onnx": ${onnxFile} is not inside ${folder.location}.`,
      { option: 'onnxFile' },
    );
  }
  return name;
}

/** Every field of `LoadOptions` (a record, so the compiler checks none is missing). */
const LOAD_OPTION_FIELDS: Record<keyof LoadOptions, true> = {
  backend: true, session: true, onnxFile: true, failover: true, tokenizer: true, probeTimeoutMs: true, sessionTimeoutMs: true, fetchTimeoutMs: true, disposeTimeoutMs: true, signal: true,
};
const LOAD_OPTION_KEYS: readonly string[] = Object.keys(LOAD_OPTION_FIELDS);

/**
 * Loads a Hugging Face style folder: configs and tokenizer first (cheap, fail fast), then the
 * graph on the chosen backend, then checks the graph against the config. A session is released
 * whenever a later check fails. The tokenizer comes from the registry's `tokenizer` kind (the
 * one named in `options.tokenizer`, else the highest priority); `runtime.signal` aborts the load,
 * a URL folder's requests included (a session that arrives afterwards is released, through
 * `runtime.lateSessions` when given, which the runtime's `dispose()` waits for).
 */
export async function loadModel(
  dir: string,
  options: LoadOptions,
  runtime: LoadRuntime,
  onDispose?: (model: DefaultWeftModel) => void,
): Promise<DefaultWeftModel> {
  // A misspelled option (`onnx_file`) would otherwise be ignored without a word.
  checkKnownKeys(options, LOAD_OPTION_KEYS, 'load options', '');
  checkName(options.backend, 'backend', 'a registered backend name such as "node", or "auto"');
  checkName(options.onnxFile, 'onnxFile', 'a graph file in the model folder such as "onnx/model.onnx"');
  const timeouts = readLoadTimeouts(options);
  const failover = readFailoverOptions(options.failover);
  checkSessionOptions(options.session);
  // A URL folder's requests are bounded by fetchTimeoutMs and end when the runtime is disposed, or
  // when the load fails: a graph download past sessionTimeoutMs must not go on in the background.
  const requests = linkedAbortController(runtime.signal);
  const folder = openModelFolder(dir, { signal: requests.signal, fetchTimeoutMs: timeouts.fetchTimeoutMs });
  try {
    return await loadFromFolder(folder, dir, options, runtime, timeouts, failover, onDispose);
  } catch (error) {
    requests.abort(error);
    throw error;
  } finally {
    requests.unlink();
  }
}

/** What {@link loadModel} takes from its runtime. */
export interface LoadRuntime {
  readonly registry: AdapterRegistry;
  readonly hooks: readonly OwnedHooks[];
  readonly signal?: AbortSignal;
  /** Where sessions given up on while they opened go, to be released when they arrive. */
  readonly lateSessions?: LateSessions;
}

async function loadFromFolder(
  folder: ModelFolder,
  dir: string,
  options: LoadOptions,
  runtime: LoadRuntime,
  timeouts: LoadTimeouts,
  failover: FailoverOptions | undefined,
  onDispose: ((model: DefaultWeftModel) => void) | undefined,
): Promise<DefaultWeftModel> {
  const onnxFile = options.onnxFile === undefined ? undefined : await graphWithin(folder, options.onnxFile);
  await folder.assertExists();
  const config = parseModelConfig(await readJson(folder, 'config.json', true), folder.resolve('config.json'));
  const generationConfig = parseGenerationConfig(
    await readJson(folder, 'generation_config.json', false),
    config,
    folder.resolve('generation_config.json'),
    folder.resolve('config.json'),
  );
  const tokenizerJson = await readJson(folder, 'tokenizer.json', false);
  const tokenizerPath = folder.resolve('tokenizer.json');
  // Core's tokenizer: its ids are read from tokenizer.json before it is built. One past vocab_size
  // means the tokenizer is not built (building one with a huge id takes minutes) and is reported
  // after the graph's checks, which tell whether config.json or tokenizer.json is the odd one out.
  const largestId = usesCoreTokenizer(runtime.registry, options.tokenizer) ? largestTokenizerId(tokenizerJson, tokenizerPath) : undefined;
  // An id far past the tokens the file defines is not built either (it would take minutes).
  const pastVocabulary = largestId === undefined
    ? undefined
    : largestId.id >= config.vocabSize
      ? tokenizerPastVocabulary(largestId, config.vocabSize, tokenizerPath)
      : tokenizerIdFarOut(largestId, tokenizerPath);
  const tokenizer = pastVocabulary ? undefined : createTokenizer(runtime.registry, options.tokenizer, {
    location: dir,
    tokenizerJson,
    tokenizerConfig: (await readJsonObject(folder, 'tokenizer_config.json')) ?? {},
    // Optional: missing (404, or a server's page in its place) is fine; any other failure is not.
    chatTemplate: await folder.readText(CHAT_TEMPLATE_FILE, { pageIsMissing: true }),
    resolve: (file) => folder.resolve(file),
  });
  const graphFile = await findGraph(folder, onnxFile);
  const graph = folder.resolve(graphFile);
  let source: Promise<ModelSource> | undefined;
  let problem: Promise<ExternalDataProblem | undefined> | undefined;
  const { adapter, session, rejected, others, offered } = await openBackendSession(runtime.registry, {
    wanted: options.backend ?? 'auto',
    source: () => (source ??= folder.source(graphFile)),
    externalDataFiles: () => folder.externalDataFiles(graphFile),
    diagnose: () => (problem ??= folder.externalDataProblem(graphFile)),
    graph,
    session: options.session,
    timeouts,
    probeOthers: failover !== undefined,
    signal: runtime.signal,
    lateSessions: runtime.lateSessions,
  });
  try {
    const listed = failover?.backends ? failover.backends.map((name) => pickFallback(name, others, adapter.name)) : others;
    // Fallbacks get the load's session options: one that refuses them is left out now (or, named
    // in failover.backends, refused), not found out when the primary fails and it is needed.
    const { usable: fallbacks, leftOut } = failover
      ? await fallbacksTakingOptions(listed, {
          session: options.session,
          offered,
          named: failover.backends !== undefined,
          ms: timeouts.probeTimeoutMs,
          signal: runtime.signal,
        })
      : { usable: listed, leftOut: [] };
    const { layout, batchOfOne } = readGraphIo(session, config, graph, new Set(runtime.hooks.flatMap((h) => h.hooks.feeds ?? [])));
    // Fewer ids than the model is common (embeddings padded to a round size); more would feed the
    // graph ids it has no embedding for.
    if (tokenizer === undefined) throw pastVocabulary;
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new ModelLoadError(
        `The tokenizer has ids up to ${tokenizer.vocabSize - 1}, but the model's vocabulary (vocab_size in config.json) has ${config.vocabSize}: the tokenizer does not belong to this model.`,
        { path: folder.resolve('tokenizer.json') },
      );
    }
    // The graph's source is kept only for fallbacks' sessions: for a URL folder it is the whole
    // graph in memory, which without fallbacks would stay alive as long as the model for nothing.
    const fallbackSource = failover && fallbacks.length > 0 ? await source! : undefined;
    const fallbackAdapters = fallbackSource ? fallbacksFor(fallbackSource, fallbacks, failover?.backends !== undefined, graph) : [];
    const sessions = new SessionPool({ adapter, backend: adapter.name, session }, fallbackAdapters, fallbackAdapters.length > 0 ? fallbackSource : undefined, {
      ...(options.session ? { session: options.session } : {}),
      ...(failover?.runTimeoutMs !== undefined ? { runTimeoutMs: failover.runTimeoutMs } : {}),
      ...(failover?.breaker ? { breaker: failover.breaker } : {}),
      sessionTimeoutMs: timeouts.sessionTimeoutMs,
      disposeTimeoutMs: timeouts.disposeTimeoutMs,
    });
    const context: GenerationContext = {
      activity: { runs: 0 },
      sessions,
      failover: failover !== undefined,
      rejectedBackends: withLeftOut(rejected, leftOut),
      layout,
      config,
      generationConfig,
      tokenizer,
      registry: runtime.registry,
      hooks: runtime.hooks,
      eosIds: new Set(generationConfig.eosTokenIds),
      presentNames: new Set([...layout.presentKeyNames, ...layout.presentValueNames]),
      ...(batchOfOne !== undefined ? { batchOfOne: { graph, name: batchOfOne } } : {}),
    };
    return new DefaultWeftModel(dir, graphFile, context, onDispose);
  } catch (error) {
    // The check's error is what the caller needs: a release that fails too must not replace it
    // (nor one that never settles hold it back past disposeTimeoutMs).
    await releaseWithin(session, timeouts.disposeTimeoutMs);
    throw error;
  }
}
