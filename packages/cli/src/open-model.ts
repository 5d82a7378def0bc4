import { createWeft, type SessionOptions, type Weft, type WeftModel } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { npuBackend } from '@weft/backend-npu';
import { webBackend } from '@weft/backend-web';

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
 * Opens `dir` on the chosen backend. Every backend package is registered, so `auto` picks by
 * priority and probe (npu > node > web) and, like any `auto` choice here, fails over mid-stream
 * to the next available backend.
 */
export async function openModel(dir: string, session: SessionOptions = {}, backend: BackendChoice = 'auto'): Promise<OpenModel> {
  const weft = createWeft({ plugins: [nodeBackend(), webBackend(), npuBackend()] });
  try {
    const model = await weft.load(dir, { session, backend, ...(backend === 'auto' ? { failover: true } : {}) });
    return { weft, model, close: () => weft.dispose() };
  } catch (error) {
    await weft.dispose();
    throw error;
  }
}
