import { createWeft, type SessionOptions, type Weft, type WeftModel } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';

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

export async function openModel(dir: string, session: SessionOptions = {}): Promise<OpenModel> {
  const weft = createWeft({ plugins: [nodeBackend()] });
  try {
    const model = await weft.load(dir, { session });
    return { weft, model, close: () => weft.dispose() };
  } catch (error) {
    await weft.dispose();
    throw error;
  }
}
