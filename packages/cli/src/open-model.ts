import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createWeft, DEFAULT_CAPABILITY, type GenerationRequest, type LogLevel, type SessionOptions, type Weft, type WeftModel } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { npuBackend } from '@weft/backend-npu';
import { attentionRouters } from '@weft/plugin-attention';
import { kvCompressors } from '@weft/plugin-kv';
import { InterruptedError, oneLine, UsageError } from './errors.js';
import { unknownName } from './args/suggest.js';
import type { CliPlugin } from './plugins/load-plugins.js';
import type { ModelFlags } from './args/shared-flags.js';
import { noteTo, type CliIo } from './io.js';
import { resolveModelDir } from './model-path.js';
import { findWebBackend, webBackendMissing, webBackendSettings, type FoundWebBackend } from './web-backend.js';

/** The graph variant that also returns attention probabilities (see models/README.md). */
const ATTENTION_GRAPH = 'onnx/model_with_attentions.onnx';

/**
 * The router a run uses when it reads attention probabilities (capability `attentions`): the
 * named one, or without `--router` the runtime's default router if a plugin set one; else undefined.
 */
function attentionRouter(weft: Weft, router: string | undefined): string | undefined {
  const entries = weft.registry.list('attention-router');
  const entry = router === undefined ? entries.find((e) => (e.capabilities ?? []).includes(DEFAULT_CAPABILITY)) : entries.find((e) => e.name === router);
  if (entry === undefined || !(entry.capabilities ?? []).includes('attentions')) return undefined;
  return router === undefined ? `the default router "${entry.name}" (${entry.owner})` : `--router ${router}`;
}

/** The first of the named analyzers that reads attention probabilities (capability `attentions`), as its flag. */
function attentionAnalyzer(weft: Weft, analyzers: readonly string[]): string | undefined {
  const entries = weft.registry.list('analyzer');
  const name = analyzers.find((n) => (entries.find((e) => e.name === n)?.capabilities ?? []).includes('attentions'));
  return name === undefined ? undefined : `--analyzer ${name}`;
}

/** The attention graph of `dir`, for a router or analyzer that reads attentions; a usage error when the folder lacks it. */
function attentionGraph(dir: string, router: string): string {
  // A URL folder is not listed from here: its load reports the graph missing, with the URL.
  if (/^https?:\/\//i.test(dir) || existsSync(join(dir, ATTENTION_GRAPH))) return ATTENTION_GRAPH;
  throw new UsageError(
    `${router} reads attention probabilities, but ${join(dir, ATTENTION_GRAPH)} is not there; make it (models/README.md) or pass --onnx-file with a graph that outputs attentions`,
  );
}

/** How long an interrupted `openModel` waits for its runtime's dispose before giving up on it. */
const INTERRUPTED_DISPOSE_WAIT_MS = 1000;

/** Values of `--backend` (a `--plugin` may register more). */
export const BACKENDS = ['auto', 'node', 'web', 'npu'] as const;
/** One of {@link BACKENDS}, or the name of a backend a plugin registers. */
export type BackendChoice = (typeof BACKENDS)[number] | (string & {});

/** A runtime with the node backend and one model loaded from it; dispose both with `close`. */
export interface OpenModel {
  readonly weft: Weft;
  readonly model: WeftModel;
  close(): Promise<void>;
}

/** Session options from the common `--threads` flag (undefined: the runtime's default). */
export function sessionOptions(threads: number | undefined): SessionOptions {
  return threads === undefined ? {} : { intraOpNumThreads: threads };
}

/**
 * The onnxruntime log level of the CLI's sessions: `fatal`, since every failure reaches the user
 * as `weft`'s own one-line error (the runtime's copy of it would come first, in colour);
 * `warning` with `WEFT_DEBUG` set, which also prints stack traces.
 */
export function runtimeLogLevel(env: NodeJS.ProcessEnv = process.env): LogLevel {
  return env['WEFT_DEBUG'] ? 'warning' : 'fatal';
}

/** What a command adds to the runtime and the load: its `--plugin`s, `--router`, `--analyzer`s and `--onnx-file`. */
export interface Pipeline {
  readonly router?: string | undefined;
  /** Names of the request's analyzers: one that reads attentions gets the attention graph, as such a router does. */
  readonly analyzers?: readonly string[] | undefined;
  readonly onnxFile?: string | undefined;
  /** Installed in order after the bundled plugins, before the model loads (see `loadPlugins`). */
  readonly plugins?: readonly CliPlugin[] | undefined;
  /**
   * The command reports the registry (`weft info`): register every installed backend, also when
   * `backend` names `node` or `npu` (which otherwise leave `@weft/backend-web` unimported).
   */
  readonly listsBackends?: boolean | undefined;
  /**
   * Told one line (no `weft: ` prefix, no newline) when the load went on without something it
   * would have used: an installed `@weft/backend-web` that fails to import, under `auto`.
   */
  readonly note?: ((line: string) => void) | undefined;
}

/**
 * Opens `dir` on the chosen backend. Every installed backend package is registered, so `auto`
 * picks by priority and probe (npu > node > web) and, like any `auto` choice here, fails over
 * mid-stream to the next available backend. `@weft/backend-web` is an optional peer, imported here
 * only when it can be used: for `web` (a usage error saying how to install it when it is missing
 * and no `--plugin` registers a `web` backend), `auto`, a backend a plugin registers, or
 * `listsBackends`; without it, `auto` chooses between npu and node. An installed one that fails to
 * import fails `--backend web`; any other choice goes on without it, telling `pipeline.note`. The `--plugin` plugins are installed after the bundled ones (so
 * their setup sees the bundled entries), one by one; one that fails is a usage error naming its
 * flag, with core's `PluginError` as the reason. An aborted `signal` stops the load (disposing the
 * runtime stops its downloads and plugin setups) and rejects with {@link InterruptedError}.
 */
export async function openModel(
  dir: string,
  session: SessionOptions = {},
  backend: BackendChoice = 'auto',
  pipeline: Pipeline = {},
  signal?: AbortSignal,
): Promise<OpenModel> {
  // `--threads` reaches the web backend as its wasm thread count (onnxruntime-web ignores intraOpNumThreads).
  const found = (backend === 'node' || backend === 'npu') && !pipeline.listsBackends ? undefined : await findWebBackend(undefined, webBackendSettings(session));
  // For --backend web a broken install is reported after the --plugins (one may register `web`);
  // for any other choice the web backend was only one of several: the others go on without it.
  if (found?.broken !== undefined && backend !== 'web') pipeline.note?.(`${oneLine(found.broken)}; going on without the web backend`);
  if (signal?.aborted) throw new InterruptedError();
  const web = found?.plugin;
  const weft = createWeft({ plugins: [nodeBackend(), ...(web === undefined ? [] : [web]), npuBackend(), kvCompressors(), attentionRouters()] });
  const stop = (): void => void weft.dispose().catch(() => {});
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await weft.ready();
    for (const { spec, plugin } of pipeline.plugins ?? []) {
      try {
        await weft.use(plugin);
      } catch (error) {
        if (signal?.aborted) throw error;
        throw new UsageError(`--plugin ${spec}: ${oneLine(error)}`, { cause: error });
      }
    }
    // A missing or broken @weft/backend-web is reported after the --plugins, one of which may register `web`.
    checkBackend(weft, backend, found);
    const reader = attentionRouter(weft, pipeline.router) ?? attentionAnalyzer(weft, pipeline.analyzers ?? []);
    const onnxFile = pipeline.onnxFile ?? (reader === undefined ? undefined : attentionGraph(dir, reader));
    const model = await weft.load(dir, {
      session: { logLevel: runtimeLogLevel(), ...session },
      backend,
      ...(backend === 'auto' ? { failover: true } : {}),
      ...(onnxFile ? { onnxFile } : {}),
      // Ctrl-C ends the load at once, also one waiting for a session that never opens.
      ...(signal ? { signal } : {}),
    });
    // A backend may load synchronously (the web backend creates its session so): a Ctrl-C during
    // such a load waits in the event loop until the load returns, and would only be seen once
    // generation had begun. Waiting until the loop has polled once more lets it in, so it ends the
    // command here, before anything is generated, as an interrupt during any load does. (Two
    // immediates: when the load returned in a poll callback, the first runs before the next poll.)
    if (signal !== undefined) await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
    // Aborted as the load finished: the runtime is being disposed, model and all.
    if (signal?.aborted) throw new InterruptedError();
    return { weft, model, close: () => weft.dispose() };
  } catch (error) {
    if (!signal?.aborted) {
      await weft.dispose();
      throw error;
    }
    // Interrupted: the runtime is let go of (its dispose waits up to 10 s for a session still
    // opening); the command ends now, not after that.
    await Promise.race([weft.dispose().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, INTERRUPTED_DISPOSE_WAIT_MS).unref())]);
    throw new InterruptedError();
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

/**
 * `--backend NAME` names a registered backend (a plugin's too), or is `auto`. `web`: what importing
 * `@weft/backend-web` gave, for `--backend web` with no plugin registering `web`: a missing
 * package is a usage error that says how to install it, a broken one its import error.
 */
function checkBackend(weft: Weft, backend: BackendChoice, web: FoundWebBackend | undefined): void {
  const names = weft.registry.list('backend').map((e) => e.name);
  if (backend === 'web' && !names.includes('web')) {
    if (web?.broken !== undefined) throw web.broken;
    if (web?.missing !== undefined) throw webBackendMissing(web.missing);
  }
  if (backend !== 'auto' && !names.includes(backend)) throw new UsageError(unknownName('--backend', 'backend', backend, ['auto', ...names]));
}

/**
 * `openModel` for a command that runs requests (`generate`, `chat`): the model folder and flags as
 * parsed, the request's router and analyzers (by name, where given as names) telling the load
 * which graph to prefer, and notes to stderr.
 */
export function openRequestModel(
  options: ModelFlags & { readonly onnxFile: string | undefined; readonly request: GenerationRequest },
  io: CliIo,
  plugins: readonly CliPlugin[],
): Promise<OpenModel> {
  const named = (ref: unknown): string | undefined => (typeof ref === 'string' ? ref : ref !== null && typeof ref === 'object' && 'name' in ref ? String(ref.name) : undefined);
  const analyzers = (options.request.analyzers ?? []).map(named).filter((n): n is string => n !== undefined);
  return openModel(
    resolveModelDir(options.model, io.cwd),
    sessionOptions(options.threads),
    options.backend,
    { router: named(options.request.router), analyzers, onnxFile: options.onnxFile, plugins, note: noteTo(io) },
    io.signal,
  );
}
