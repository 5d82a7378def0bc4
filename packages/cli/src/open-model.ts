import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createWeft, type LogLevel, type SessionOptions, type Weft, type WeftModel } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { npuBackend } from '@weft/backend-npu';
import { webBackend } from '@weft/backend-web';
import { attentionRouters } from '@weft/plugin-attention';
import { kvCompressors } from '@weft/plugin-kv';
import { InterruptedError, UsageError } from './errors.js';

/** The graph variant that also returns attention probabilities (see models/README.md). */
const ATTENTION_GRAPH = 'onnx/model_with_attentions.onnx';

/** Whether the named router is registered with the `attentions` capability (it reads attention outputs). */
function routerNeedsAttentions(weft: Weft, router: string | undefined): boolean {
  if (router === undefined) return false;
  return weft.registry.list('attention-router').some((e) => e.name === router && (e.capabilities ?? []).includes('attentions'));
}

/** The attention graph of `dir`, for a router that reads attentions; a usage error when the folder lacks it. */
function attentionGraph(dir: string, router: string): string {
  // A URL folder is not listed from here: its load reports the graph missing, with the URL.
  if (/^https?:\/\//i.test(dir) || existsSync(join(dir, ATTENTION_GRAPH))) return ATTENTION_GRAPH;
  throw new UsageError(
    `--router ${router} reads attention probabilities, but ${join(dir, ATTENTION_GRAPH)} is not there; make it (models/README.md) or pass --onnx-file with a graph that outputs attentions`,
  );
}

/** Values of `--backend`. */
export const BACKENDS = ['auto', 'node', 'web', 'npu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

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

/**
 * Opens `dir` on the chosen backend. Every backend package is registered, so `auto` picks by
 * priority and probe (npu > node > web) and, like any `auto` choice here, fails over mid-stream
 * to the next available backend. An aborted `signal` stops the load (disposing the runtime stops
 * its downloads) and rejects with {@link InterruptedError}.
 */
export async function openModel(
  dir: string,
  session: SessionOptions = {},
  backend: BackendChoice = 'auto',
  pipeline: { readonly router?: string | undefined; readonly onnxFile?: string | undefined } = {},
  signal?: AbortSignal,
): Promise<OpenModel> {
  if (signal?.aborted) throw new InterruptedError();
  const weft = createWeft({ plugins: [nodeBackend(), webBackend(), npuBackend(), kvCompressors(), attentionRouters()] });
  const stop = (): void => void weft.dispose().catch(() => {});
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await weft.ready();
    const onnxFile = pipeline.onnxFile ?? (routerNeedsAttentions(weft, pipeline.router) ? attentionGraph(dir, pipeline.router!) : undefined);
    const model = await weft.load(dir, {
      session: { logLevel: runtimeLogLevel(), ...session },
      backend,
      ...(backend === 'auto' ? { failover: true } : {}),
      ...(onnxFile ? { onnxFile } : {}),
    });
    // Aborted as the load finished: the runtime is being disposed, model and all.
    if (signal?.aborted) throw new InterruptedError();
    return { weft, model, close: () => weft.dispose() };
  } catch (error) {
    await weft.dispose();
    throw signal?.aborted ? new InterruptedError() : error;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}
