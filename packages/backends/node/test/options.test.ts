import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createWeft, InvalidOptionsError, ModelLoadError } from '@weft/core';
import { NodeBackendAdapter, nodeBackend } from '../src/index.js';

const tinyGraph = fileURLToPath(new URL('../../../core/test/fixtures/tiny/onnx/model.onnx', import.meta.url));
const tinyModel = fileURLToPath(new URL('../../../core/test/fixtures/tiny', import.meta.url));

const thrown = (make: () => unknown): unknown => {
  try {
    make();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('nodeBackend options', () => {
  it.each([
    [{ priority: 'x' }, /priority must be a finite number \(got "x"\)/, 'priority'],
    [{ prority: 5 }, /nodeBackend has no option "prority" \(it takes priority, defaults\)/, 'prority'],
    [{ defaults: { threads: 2 } }, /defaults has no option "threads"/, 'defaults.threads'],
    [{ defaults: null }, /defaults must be an object/, 'defaults'],
    [{ defaults: { intraOpNumThreads: 1e9 } }, /defaults\.intraOpNumThreads must be a whole number from 0 .* to 1024/, 'defaults.intraOpNumThreads'],
    [{ defaults: { executionProviders: 'cpu' } }, /defaults\.executionProviders must be a non-empty list of provider names/, 'defaults.executionProviders'],
    ['fast', /nodeBackend options must be an object/, 'options'],
  ])('are checked where they are written: %j', (options, message, option) => {
    const error = thrown(() => nodeBackend(options as never));
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect((error as InvalidOptionsError).option).toBe(option);
  });

  it('checks the session options of a load before any backend is tried', async () => {
    const weft = createWeft({ plugins: [nodeBackend()] });
    try {
      for (const [session, option] of [
        ['fast', 'session'],
        [{ intraOpThreads: 3 }, 'session.intraOpThreads'],
        [{ executionProviders: 'cpu' }, 'session.executionProviders'],
        [{ executionProviders: [{ name: 'cpu' }] }, 'session.executionProviders'],
      ] as const) {
        const error = await weft.load(tinyModel, { session: session as never }).catch((e: unknown) => e);
        expect(InvalidOptionsError.isInstance(error), JSON.stringify(session)).toBe(true);
        expect((error as InvalidOptionsError).option).toBe(option);
      }
    } finally {
      await weft.dispose();
    }
  });
});

describe('NodeBackendAdapter model bytes', () => {
  it('opens bytes held in a SharedArrayBuffer, and refuses empty bytes with a ModelLoadError', async () => {
    const file = await readFile(tinyGraph);
    const shared = new Uint8Array(new SharedArrayBuffer(file.byteLength));
    shared.set(file);
    const adapter = new NodeBackendAdapter({ intraOpNumThreads: 1 });
    const session = await adapter.createSession({ kind: 'bytes', bytes: shared });
    expect(session.inputNames).toContain('input_ids');
    await session.release();
    const empty = await adapter.createSession({ kind: 'bytes', bytes: new Uint8Array() }).catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(empty)).toBe(true);
    expect((empty as Error).message).toMatch(/model bytes are empty/);
  });
});
