/**
 * A consumer's TypeScript against the packed packages' declarations. The test copies it into the
 * consumer project and type-checks it with skipLibCheck off, so every type the shipped `.d.ts` files
 * reference must resolve from what the packages declare. It is never run.
 */
import { createWeft, type GenerationEvent, type GenerationRequest, type Weft, type WeftModel } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { kvCompressors, kvQuant } from '@weft/plugin-kv';
import { checkKvStoreContract } from '@weft/plugin-kv/conformance';
import { attentionRouters, sinkWindow } from '@weft/plugin-attention';

export async function firstRowIds(modelDir: string, request: GenerationRequest): Promise<readonly number[]> {
  const weft: Weft = createWeft({ plugins: [nodeBackend(), kvCompressors(), attentionRouters(), kvQuant({ bits: 4 }), sinkWindow({ window: 64 })] });
  const model: WeftModel = await weft.load(modelDir, { backend: 'node' });
  return new Promise((resolve, reject) => {
    model.generate(request).subscribe({
      next: (event: GenerationEvent) => {
        if (event.type === 'done') resolve(event.rows[0]?.ids ?? []);
      },
      error: reject,
    });
  });
}

export const storeContract: typeof checkKvStoreContract = checkKvStoreContract;

/** The browser and NPU backends, loaded only where they are wanted. */
export async function otherBackends(): Promise<Weft> {
  const { webBackend } = await import('@weft/backend-web');
  const { npuBackend } = await import('@weft/backend-npu');
  return createWeft({ plugins: [webBackend(), npuBackend()] });
}
