import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createWeft, InvalidOptionsError, type BackendTensor } from '@weft/core';
import { nodeBackend, NodeBackendAdapter, NodeSession } from '../src/index.js';

const tinyModel = fileURLToPath(new URL('../../../core/test/fixtures/tiny', import.meta.url));

describe('NodeSession tensors', () => {
  it('are JavaScript memory only, as garbageCollectedTensors declares: outputs own copies that outlive the session', async () => {
    const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    try {
      const model = await weft.load(tinyModel);
      const session = model.session;
      expect(session).toBeInstanceOf(NodeSession);
      expect(session.garbageCollectedTensors).toBe(true);
      const { layout } = model;
      const ids = BigInt64Array.of(1n, 2n, 3n);
      const feeds: Record<string, BackendTensor> = { input_ids: session.createTensor('int64', ids, [1, 3]) };
      // An input wraps the array it was given (no copy, nothing native to free).
      expect(feeds['input_ids']!.data).toBe(ids);
      if (layout.hasAttentionMask) feeds['attention_mask'] = session.createTensor('int64', BigInt64Array.of(1n, 1n, 1n), [1, 3]);
      if (layout.hasPositionIds) feeds['position_ids'] = session.createTensor('int64', BigInt64Array.of(0n, 1n, 2n), [1, 3]);
      for (const name of [...layout.pastKeyNames, ...layout.pastValueNames]) {
        feeds[name] = session.createTensor('float32', new Float32Array(0), [1, layout.numKvHeads, 0, layout.headDim]);
      }
      const outputs = await session.run(feeds);
      const inputBuffers = new Set(Object.values(feeds).map((t) => t.data.buffer));
      const copies = Object.values(outputs).map((t) => ({ t, before: Array.from((t.data as Float32Array).subarray(0, 4)) }));
      for (const { t } of copies) {
        expect((t as unknown as { location: string }).location).toBe('cpu');
        expect(t.data.buffer).toBeInstanceOf(ArrayBuffer);
        expect(inputBuffers.has(t.data.buffer)).toBe(false);
      }
      // Released session, outputs never disposed: their data is still there, unchanged.
      await model.dispose();
      for (const { t, before } of copies) expect(Array.from((t.data as Float32Array).subarray(0, 4))).toEqual(before);
    } finally {
      await weft.dispose();
    }
  });
});

describe('createSession with what is not a model source', () => {
  it.each([
    ['null', null, 'source', "The model source must be { kind: 'path', path } or { kind: 'bytes', bytes }; got null."],
    ['an unknown kind', { kind: 'url', url: 'x' }, 'source', `The model source must be { kind: 'path', path } or { kind: 'bytes', bytes }; got kind "url".`],
    ['an empty path', { kind: 'path', path: '' }, 'source.path', `The model source's path must be a non-empty string; got "".`],
  ])('%s is an InvalidOptionsError naming the source (before: a bare TypeError)', async (_, source, option, message) => {
    const attempt = new NodeBackendAdapter().createSession(source as never);
    await expect(attempt).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(attempt).rejects.toMatchObject({ option, message });
  });
});
