import { describe, expect, it } from 'vitest';
import { createWeft, definePlugin, ModelLoadError, type WeftPlugin } from '../src/index.js';
import { fixture } from './helpers.js';

const tiny = fixture('tiny');

/** A backend whose probe says it is unavailable (as the npu backend's does on a machine without an NPU). */
const unavailable = definePlugin({
  name: 'npu-like',
  version: '1.0.0',
  apiVersion: '^0.1.0',
  setup(ctx) {
    ctx.register('backend', {
      name: 'npu',
      priority: 1000,
      create: () => ({
        specificationVersion: 'v1',
        name: 'npu',
        probe: async () => ({ available: false, reason: 'no NPU execution provider here' }),
        createSession: () => Promise.reject(new Error('never called')),
      }),
    });
  },
});

/** An available backend whose `createSession` always throws. */
function failing(name: string, priority: number): WeftPlugin {
  return definePlugin({
    name: `${name}-backend`,
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('backend', {
        name,
        priority,
        create: () => ({
          specificationVersion: 'v1',
          name,
          probe: async () => ({ available: true }),
          createSession: () => Promise.reject(new Error(`${name} driver crashed`)),
        }),
      });
    },
  });
}

describe('under auto, the ModelLoadError for "every session failed" lists the backends passed over at probe too', () => {
  it('names the unavailable backend with its reason, and lists every backend in rejectedBackends', async () => {
    const weft = createWeft({ plugins: [unavailable, failing('b0', 100), failing('b1', 90)] });
    try {
      const error = await weft.load(tiny).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      const message = (error as Error).message;
      expect(message).toMatch(/^No backend could load .*model\.onnx: The b0 backend could not load .*: b0 driver crashed \| The b1 backend could not load .*: b1 driver crashed\./);
      // Before: npu was not mentioned at all.
      expect(message).toMatch(/ Also passed over: npu \(unavailable: no NPU execution provider here\)\.$/);
      expect((error as ModelLoadError).rejectedBackends).toEqual([
        { name: 'npu', reason: 'unavailable: no NPU execution provider here' },
        { name: 'b0', reason: 'createSession() failed: b0 driver crashed' },
        { name: 'b1', reason: 'createSession() failed: b1 driver crashed' },
      ]);
    } finally {
      await weft.dispose();
    }
  });

  it('keeps a single failure\'s message, path and cause, adding the backends passed over before', async () => {
    const weft = createWeft({ plugins: [unavailable, failing('b0', 100)] });
    try {
      const error = await weft.load(tiny).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/^The b0 backend could not load .*model\.onnx: b0 driver crashed\. Also passed over: npu \(unavailable: no NPU execution provider here\)\.$/);
      expect((error as ModelLoadError).path).toMatch(/model\.onnx$/);
      expect(((error as Error).cause as Error).message).toBe('b0 driver crashed');
      expect((error as ModelLoadError).rejectedBackends?.map((r) => r.name)).toEqual(['npu', 'b0']);
    } finally {
      await weft.dispose();
    }
  });

  it('leaves rejectedBackends undefined on other load errors', () => {
    expect(new ModelLoadError('x').rejectedBackends).toBeUndefined();
  });
});
