import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '@weft/backend-node';
import { createWeft } from '@weft/core';
import { webBackend } from '../src/index.js';
import { collect, tinyModel } from './helpers.js';

const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } }), webBackend({ numThreads: 1 })] });
afterAll(() => weft.dispose());
const request = { prompt: ['Once upon a time', 'Tom'], maxTokens: 10 };

async function ids(dir: string, backend: string): Promise<number[]> {
  const model = await weft.load(dir, { backend });
  return (await collect(model.generate(request))).flatMap((e) => (e.type === 'token' ? [e.id] : []));
}

describe('web backend: graph I/O variants of third-party exports', () => {
  // num_logits_to_keep, int32 integer inputs, float16 logits and cache: the same tokens as the plain graph on node.
  it.each(['tiny-logits-to-keep', 'tiny-int32', 'tiny-fp16'])('%s gives the tokens of the plain graph', async (variant) => {
    expect(await ids(join(tinyModel, `../${variant}`), 'web')).toEqual(await ids(tinyModel, 'node'));
  });
});
