/** Loads a model once with createWeft + nodeBackend, serves it, and shuts both down together. */
import { nodeBackend } from '@weft/backend-node';
import { createWeft, type WeftModel } from '@weft/core';
import { createGenerationServer, type GenerationServer, type GenerationServerOptions } from './server.js';

/** Options of {@link serve}. */
export interface ServeOptions extends Omit<GenerationServerOptions, 'model'> {
  /** A Hugging Face style ONNX model folder (or an `http(s)://` URL of one). */
  readonly modelDir: string;
  /** Default 0: any free port. */
  readonly port?: number;
  /**
   * Default `127.0.0.1`: the loopback interface, which only this machine reaches. Web pages open in
   * its browser are refused by the Host and Origin checks (see `allowedHosts`).
   */
  readonly host?: string;
  /** onnxruntime's intra-op threads (default: onnxruntime's own choice). */
  readonly threads?: number | undefined;
}

/** A model loaded and served by {@link serve}. */
export interface Serving {
  readonly url: URL;
  readonly model: WeftModel;
  readonly app: GenerationServer;
  /** Closes the server (aborting generations in flight), then disposes the model and the runtime. Idempotent. */
  shutdown(): Promise<void>;
}

/** Loads `modelDir` once with createWeft + nodeBackend and serves it on `host:port`. */
export async function serve(options: ServeOptions): Promise<Serving> {
  const { modelDir, port = 0, host = '127.0.0.1', threads, ...serverOptions } = options;
  const weft = createWeft({ plugins: [nodeBackend(threads === undefined ? {} : { defaults: { intraOpNumThreads: threads } })] });
  try {
    const model = await weft.load(modelDir);
    const app = createGenerationServer({ ...serverOptions, model });
    const url = await app.listen(port, host);
    let stopping: Promise<void> | undefined;
    const shutdown = (): Promise<void> =>
      (stopping ??= (async () => {
        try {
          await app.close();
        } finally {
          await weft.dispose();
        }
      })());
    return { url, model, app, shutdown };
  } catch (error) {
    await weft.dispose();
    throw error;
  }
}
