/**
 * What a consumer's program does with the published packages: imports them by name, loads a model
 * with a KV compressor and an attention router from the plugins, and generates greedily.
 *
 * The test imports `greedyIds` in-process, where the names resolve to the workspace's sources, and
 * runs a copy of this file with `node` in a project that installed the packed tarballs
 * (`node packed-packages-consumer.mjs MODEL_DIR` prints the result as JSON): the same code on both
 * sides, so equal ids mean the tarballs hold the code the workspace tests.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createWeft } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { kvCompressors } from '@weft/plugin-kv';
import { attentionRouters } from '@weft/plugin-attention';

/**
 * Text, so the tokenizer's packages run too; longer than the router's window, so the int8 cache
 * and the eviction both take part.
 */
export const REQUEST = {
  prompt: 'Once upon a time, there was a little fox named',
  maxTokens: 8,
  temperature: 0,
  kv: 'int8',
  router: { name: 'sink-window', options: { sinks: 2, window: 8 } },
};

/** @param {string} modelDir @returns {Promise<number[]>} */
export async function greedyIds(modelDir) {
  const weft = createWeft({ plugins: [nodeBackend(), kvCompressors(), attentionRouters()] });
  try {
    const model = await weft.load(modelDir, { backend: 'node' });
    return await new Promise((resolve, reject) => {
      // Subscribing directly keeps rxjs, which this consumer does not declare, out of its imports.
      model.generate(REQUEST).subscribe({
        next: (event) => {
          if (event.type === 'done') resolve(event.rows.flatMap((row) => [...row.ids]));
        },
        error: reject,
        complete: () => reject(new Error('the generation completed without a done event')),
      });
    });
  } finally {
    await weft.dispose();
  }
}

const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const modelDir = process.argv[2];
  if (modelDir === undefined) throw new Error('usage: node packed-packages-consumer.mjs MODEL_DIR');
  process.stdout.write(`${JSON.stringify({ ids: await greedyIds(modelDir) })}\n`);
}
