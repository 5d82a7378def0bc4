import { describe, expect, it } from 'vitest';
import { createWeft, type BackendTensor } from '@weft/core';
import { webBackend, WebSession } from '../src/index.js';
import { tinyModel } from './helpers.js';

describe('WebSession tensors', () => {
  it('are CPU memory in JavaScript, as garbageCollectedTensors declares: outputs outlive the session', async () => {
    const weft = createWeft({ plugins: [webBackend({ numThreads: 1 })] });
    try {
      const model = await weft.load(tinyModel, { backend: 'web' });
      const session = model.session;
      expect(session).toBeInstanceOf(WebSession);
      expect(session.garbageCollectedTensors).toBe(true);
      const { layout } = model;
      const feeds: Record<string, BackendTensor> = { input_ids: session.createTensor('int64', BigInt64Array.of(1n, 2n), [1, 2]) };
      if (layout.hasAttentionMask) feeds['attention_mask'] = session.createTensor('int64', BigInt64Array.of(1n, 1n), [1, 2]);
      if (layout.hasPositionIds) feeds['position_ids'] = session.createTensor('int64', BigInt64Array.of(0n, 1n), [1, 2]);
      for (const name of [...layout.pastKeyNames, ...layout.pastValueNames]) {
        feeds[name] = session.createTensor('float32', new Float32Array(0), [1, layout.numKvHeads, 0, layout.headDim]);
      }
      const outputs = await session.run(feeds);
      const before = Object.values(outputs).map((t) => Array.from((t.data as Float32Array).subarray(0, 4)));
      for (const t of Object.values(outputs)) expect((t as unknown as { location: string }).location).toBe('cpu');
      await model.dispose();
      expect(Object.values(outputs).map((t) => Array.from((t.data as Float32Array).subarray(0, 4)))).toEqual(before);
    } finally {
      await weft.dispose();
    }
  });
});
