import { describe, expect, it } from 'vitest';
import { createWeft, InvalidOptionsError } from '@weft/core';
import { WebBackendAdapter, webBackend } from '../src/index.js';
import { refusal } from './option-refusal.js';
import { tinyModel } from './helpers.js';
import { throwingGetter, throwingProxy } from '../../../core/test/hostile-options.js';

describe('web backend options that cannot be read', () => {
  it.each([
    ['a proxy whose traps throw', () => throwingProxy(), 'options', 'options could not be read: ownKeys boom'],
    ['a throwing getter', () => throwingGetter('priority'), 'priority', 'priority could not be read: getter boom'],
    ['defaults as a throwing proxy', () => ({ defaults: throwingProxy() }), 'defaults', 'defaults could not be read: ownKeys boom'],
    ['a provider whose name getter throws', () => ({ executionProviders: [throwingGetter('name')] }), 'executionProviders[0].name', 'executionProviders[0].name could not be read: getter boom'],
    [
      'a provider list whose length cannot be read',
      () => ({ executionProviders: new Proxy(['wasm'], { get: (t, k) => (k === 'length' ? fail('len boom') : Reflect.get(t, k)) }) }),
      'executionProviders',
      'executionProviders.length could not be read: len boom',
    ],
    ['wasmPaths with a throwing getter', () => ({ wasmPaths: throwingGetter('wasm') }), 'wasmPaths.wasm', 'wasmPaths.wasm could not be read: getter boom'],
    [
      'defaults.executionProviders with a throwing item',
      () => ({ defaults: { executionProviders: Object.defineProperty(['wasm'], 0, { get: () => fail('item boom') }) } }),
      'defaults.executionProviders[0]',
      'defaults.executionProviders[0] could not be read: item boom',
    ],
  ])('%s is an InvalidOptionsError naming it', (_, make, option, message) => {
    const error = refusal(make());
    expect(error.message).toBe(message);
    expect(error.option).toBe(option);
    expect((error.cause as Error).message).toMatch(/boom/);
  });

  it('reads each option once and runs on what it checked', async () => {
    let reads = 0;
    const options = Object.defineProperty({}, 'numThreads', {
      enumerable: true,
      get() {
        // Valid when checked; a second read would bring in an unchecked value.
        return ++reads === 1 ? 1 : 'unchecked';
      },
    });
    const weft = createWeft({ plugins: [webBackend(options)] });
    try {
      const model = await weft.load(tinyModel, { backend: 'web' });
      expect(model).toBeDefined();
      expect(reads).toBe(1);
    } finally {
      await weft.dispose();
    }
  });
});

describe('web backend option messages', () => {
  it('quotes a string given for a number, so "2" does not read as the number 2', () => {
    expect(refusal({ numThreads: '2' }).message).toBe(`numThreads must be an integer from 0 (onnxruntime-web's default) to 256; got "2".`);
    expect(refusal({ requireFullOffload: 'true' }).message).toBe('requireFullOffload must be a boolean; got "true".');
    expect(refusal({ priority: '5' }).message).toBe('priority must be a finite number; got "5".');
    expect(refusal({ wasmPaths: { wasm: 42 } }).message).toBe('wasmPaths.wasm must be a non-empty URL string or a URL; got 42.');
  });
});

describe('a provider listed twice', () => {
  it.each([
    ['by name twice', { executionProviders: ['wasm', 'wasm'] }, 'executionProviders', 'wasm'],
    ['as a name and as an object', { executionProviders: ['wasm', { name: 'wasm' }] }, 'executionProviders', 'wasm'],
    ['as two objects with different options', { executionProviders: [{ name: 'webnn', deviceType: 'npu' }, 'wasm', { name: 'webnn', deviceType: 'gpu' }] }, 'executionProviders', 'webnn'],
    ['in defaults', { defaults: { executionProviders: ['webgpu', 'webgpu'] } }, 'defaults.executionProviders', 'webgpu'],
  ])('is refused %s', (_, options, option, name) => {
    const error = refusal(options);
    expect(error.message).toBe(`${option} lists ${name} twice.`);
    expect(error.option).toBe(option);
  });

  it('stops at the first repeat of a huge list', () => {
    expect(refusal({ executionProviders: new Array(1_000_000).fill('wasm') }).message).toBe('executionProviders lists wasm twice.');
  });

  it('is refused per load too, before loading anything', async () => {
    const adapter = new WebBackendAdapter({ numThreads: 1 });
    await expect(adapter.createSession({ kind: 'path', path: `${tinyModel}/onnx/model.onnx` }, { executionProviders: ['wasm', 'wasm'] })).rejects.toMatchObject({
      name: 'InvalidOptionsError',
      message: 'executionProviders lists wasm twice.',
    });
  });
});

function fail(message: string): never {
  throw new Error(message);
}
