import { ModelLoadError } from '../errors/model-load-error.js';
import { WeftError } from '../errors/weft-error.js';
import type { GenerationContext } from '../generation/generation-context.js';
import type { OwnedHooks } from '../runtime/tokens.js';
import type { InferenceSession } from '../spec/backend.js';
import type { AdapterRegistry } from '../spec/registry.js';
import type { LoadOptions } from '../spec/runtime.js';
import { HfTokenizer } from '../tokenizer/hf-tokenizer.js';
import { DefaultWeftModel } from './default-weft-model.js';
import { parseGenerationConfig } from './generation-config.js';
import { readKvLayout } from './kv-layout.js';
import { parseModelConfig } from './model-config.js';
import { findGraph, openModelFolder, readJson } from './model-folder.js';
import { selectBackend } from './select-backend.js';
import { SessionPool } from '../backend/session-pool.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { BackendAdapter } from '../spec/backend.js';

function pickFallback(name: string, available: readonly BackendAdapter[]): BackendAdapter {
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
 * Loads a Hugging Face style folder: configs and tokenizer first (cheap, fail fast), then the
 * graph on the chosen backend, then checks the graph against the config. A session is released
 * whenever a later check fails.
 */
export async function loadModel(
  dir: string,
  options: LoadOptions,
  runtime: { readonly registry: AdapterRegistry; readonly hooks: readonly OwnedHooks[] },
  onDispose?: (model: DefaultWeftModel) => void,
): Promise<DefaultWeftModel> {
  const folder = openModelFolder(dir);
  await folder.assertExists();
  const config = parseModelConfig(await readJson(folder, 'config.json', true), folder.resolve('config.json'));
  const generationConfig = parseGenerationConfig(await readJson(folder, 'generation_config.json', false), config);
  const tokenizerJson = await readJson(folder, 'tokenizer.json', true);
  const tokenizerConfig = ((await readJson(folder, 'tokenizer_config.json', false)) ?? {}) as Record<string, unknown>;
  const tokenizer = new HfTokenizer(tokenizerJson, tokenizerConfig, folder.resolve('tokenizer.json'));
  const graphFile = await findGraph(folder, options.onnxFile);
  const graph = folder.resolve(graphFile);
  const failover = options.failover === true ? {} : options.failover || undefined;
  const { adapter, rejected, others } = await selectBackend(runtime.registry, options.backend ?? 'auto', failover !== undefined);
  const fallbacks = failover?.backends ? failover.backends.map((name) => pickFallback(name, others)) : others;
  const source = await folder.source(graphFile);
  let session: InferenceSession;
  try {
    session = await adapter.createSession(source, options.session);
  } catch (cause) {
    if (WeftError.isInstance(cause) && cause.code !== 'backend') throw cause;
    throw new ModelLoadError(
      `The ${adapter.name} backend could not load ${graph} (corrupt or truncated ONNX file?): ${(cause as Error).message}`,
      { path: graph, cause },
    );
  }
  try {
    const layout = readKvLayout(session, config, graph);
    const sessions = new SessionPool({ adapter, backend: adapter.name, session }, failover ? fallbacks : [], source, {
      ...(options.session ? { session: options.session } : {}),
      ...(failover?.runTimeoutMs !== undefined ? { runTimeoutMs: failover.runTimeoutMs } : {}),
      ...(failover?.breaker ? { breaker: failover.breaker } : {}),
    });
    const context: GenerationContext = {
      sessions,
      failover: failover !== undefined,
      rejectedBackends: rejected,
      layout,
      config,
      generationConfig,
      tokenizer,
      registry: runtime.registry,
      hooks: runtime.hooks,
      eosIds: new Set(generationConfig.eosTokenIds),
      presentNames: new Set([...layout.presentKeyNames, ...layout.presentValueNames]),
    };
    return new DefaultWeftModel(dir, context, onDispose);
  } catch (error) {
    await session.release();
    throw error;
  }
}
