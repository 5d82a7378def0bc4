import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';
import { describe, expect, it, vi } from 'vitest';
import { createWeft, InvalidOptionsError } from '@weft/core';
import { VERSION, WebBackendAdapter, WebSession, toOrtWebOptions, webBackend, type WebBackendOptions } from '../src/index.js';
import { tinyModel } from './helpers.js';

const bad: [string, unknown][] = [
  ['numThreads', { numThreads: -1 }],
  ['numThreads', { numThreads: 1.5 }],
  ['numThreads', { numThreads: '2' }],
  ['priority', { priority: Number.NaN }],
  ['wasmPaths', { wasmPaths: '' }],
  ['wasmPaths', { wasmPaths: { wasm: 42 } }],
  ['wasmPaths', { wasmPaths: { js: '/x.js' } }],
  ['executionProviders', { executionProviders: [] }],
  ['executionProviders', { executionProviders: ['cuda'] }],
  ['executionProviders', { executionProviders: [{ name: 'webgl' }] }],
  ['executionProviders', { executionProviders: [{ name: 'webnn', deviceType: 'tpu' }] }],
  ['executionProviders', { executionProviders: [{ name: 'webnn', numThreads: -2 }] }],
  ['executionProviders', { executionProviders: [{ name: 'webgpu', preferredLayout: 'NWHC' }] }],
  ['executionProviders', { executionProviders: [{ name: 'wasm', numThreads: 2 }] }],
  ['defaults.graphOptimizationLevel', { defaults: { graphOptimizationLevel: 'max' } }],
  ['defaults.intraOpNumThreads', { defaults: { intraOpNumThreads: -1 } }],
  ['defaults', { defaults: null }],
  ['defaults', { defaults: 'x' }],
  ['defaults.threads', { defaults: { threads: 2 } }],
];

describe('web backend options', () => {
  it.each(bad)('rejects a bad %s with InvalidOptionsError', (option, options) => {
    const attempt = () => webBackend(options as WebBackendOptions);
    expect(attempt).toThrow(InvalidOptionsError);
    try {
      attempt();
    } catch (error) {
      expect((error as InvalidOptionsError).option).toContain(option.split('.')[0]);
    }
    expect(() => new WebBackendAdapter(options as WebBackendOptions)).toThrow(InvalidOptionsError);
  });

  it('accepts the documented options', () => {
    expect(() =>
      webBackend({
        priority: 10,
        numThreads: 0,
        wasmPaths: { wasm: 'https://cdn.example/ort.wasm', mjs: 'https://cdn.example/ort.mjs' },
        executionProviders: [{ name: 'webgpu', preferredLayout: 'NHWC' }, { name: 'webnn', deviceType: 'npu', powerPreference: 'low-power' }, 'wasm'],
        defaults: { graphOptimizationLevel: 'all' },
      }),
    ).not.toThrow();
  });

  it('maps providers and session options to onnxruntime-web names', () => {
    expect(toOrtWebOptions({ graphOptimizationLevel: 'basic' }, [{ name: 'webnn', deviceType: 'gpu' }, { name: 'wasm' }])).toEqual({
      executionProviders: [{ name: 'webnn', deviceType: 'gpu' }, 'wasm'],
      graphOptimizationLevel: 'basic',
      logSeverityLevel: 3, // `error` unless the options name a level
    });
    expect(toOrtWebOptions({ logLevel: 'verbose' }, [{ name: 'wasm' }]).logSeverityLevel).toBe(0);
  });

  it('rejects bad per-load session options before touching the runtime', async () => {
    const adapter = new WebBackendAdapter();
    await expect(adapter.createSession({ kind: 'path', path: `${tinyModel}/onnx/model.onnx` }, { executionProviders: ['cpu'] })).rejects.toThrow(InvalidOptionsError);
    await expect(adapter.createSession({ kind: 'path', path: `${tinyModel}/onnx/model.onnx` }, { graphOptimizationLevel: 'fast' as never })).rejects.toThrow(
      InvalidOptionsError,
    );
    const weft = createWeft({ plugins: [webBackend()] });
    await expect(weft.load(tinyModel, { backend: 'web', session: { interOpNumThreads: -3 } })).rejects.toThrow(InvalidOptionsError);
    await weft.dispose();
  });

  it('executionProviders wins over defaults.executionProviders in sessions as in the probe', async () => {
    const path = `${tinyModel}/onnx/model.onnx`;
    const onWasm = new WebBackendAdapter({ numThreads: 1, executionProviders: ['wasm'], defaults: { executionProviders: ['webgpu'] } });
    expect(await onWasm.probe()).toMatchObject({ available: true });
    const session = await onWasm.createSession({ kind: 'path', path });
    expect((session as WebSession).executionProviders).toEqual(['wasm']);
    await session.release();
    const onGpu = new WebBackendAdapter({ numThreads: 1, executionProviders: ['webgpu'], defaults: { executionProviders: ['wasm'] } });
    expect(await onGpu.probe()).toMatchObject({ available: false });
    await expect(onGpu.createSession({ kind: 'path', path })).rejects.toMatchObject({ code: 'backend', message: expect.stringMatching(/on webgpu:/) });
  });

  it('a per-load provider name keeps the options configured for it', async () => {
    const create = vi.spyOn(ort.InferenceSession, 'create');
    try {
      const adapter = new WebBackendAdapter({ numThreads: 1, executionProviders: [{ name: 'webnn', deviceType: 'npu' }, 'wasm'] });
      await adapter.createSession({ kind: 'path', path: `${tinyModel}/onnx/model.onnx` }, { executionProviders: ['webnn'] }).catch(() => undefined);
      expect(create.mock.calls.at(-1)?.[1]?.executionProviders).toEqual([{ name: 'webnn', deviceType: 'npu' }]);
    } finally {
      create.mockRestore();
    }
  });

  it('registers `web` with priority 50 and its providers as capabilities', async () => {
    const weft = createWeft({ plugins: [webBackend()] });
    await weft.ready();
    const [entry] = weft.registry.list('backend');
    expect(entry).toMatchObject({ name: 'web', priority: 50, owner: '@weft/backend-web' });
    expect(entry!.capabilities).toEqual(expect.arrayContaining(['wasm', 'webgpu', 'webnn']));
    await weft.dispose();
  });

  it('keeps the plugin version in step with package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});

describe('misspelled web backend options', () => {
  it.each([
    [{ numthreads: 4 }, 'numthreads', '; did you mean "numThreads"\\?'],
    [{ executionProvider: ['wasm'] }, 'executionProvider', ''],
  ])('are refused, naming the key: %j', (options, key, hint) => {
    for (const make of [() => webBackend(options as never), () => new WebBackendAdapter(options as never)]) {
      expect(make).toThrow(InvalidOptionsError);
      expect(make).toThrow(new RegExp(`webBackend has no option "${key}"${hint} \\(it takes priority, defaults, executionProviders, numThreads, wasmPaths\\)`));
    }
  });

  it('refuses a list where the options object goes', () => {
    expect(() => webBackend([] as never)).toThrow(/web backend options must be an object/);
  });
});
