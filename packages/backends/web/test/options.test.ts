import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';
import { describe, expect, it, vi } from 'vitest';
import { BackendError, createWeft, InvalidOptionsError, type ModelSource } from '@weft/core';
import { VERSION, WebBackendAdapter, WebSession, detectEnvironment, toOrtWebOptions, webBackend, type WebBackendOptions, type WebEnvironment } from '../src/index.js';
import { tinyModel } from './helpers.js';

/** The tiny graph as a bytes source (what core hands over for a URL folder). */
const tinyBytes = async (): Promise<ModelSource> => ({ kind: 'bytes', bytes: new Uint8Array(readFileSync(`${tinyModel}/onnx/model.onnx`)) });

/** This process as a browser whose navigator.ml creates contexts (of `only`, when given): for option building, not WebNN runs. */
const withWebNn = (only?: 'cpu' | 'gpu' | 'npu'): WebEnvironment => ({
  ...detectEnvironment(),
  node: false,
  ml: { createContext: async (o) => (only === undefined || o?.deviceType === only ? {} : Promise.reject(new Error('NotSupportedError'))) },
});

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
  ['executionProviders', { executionProviders: [{ name: 'webnn', numThreads: 2 }] }],
  ['runtime', { runtime: 'onnxruntime-web/wasm' }],
  ['requireFullOffload', { requireFullOffload: 'yes' }],
  ['requireFullOffload', { requireFullOffload: true }],
  ['requireFullOffload', { requireFullOffload: true, executionProviders: ['webnn', 'wasm'] }],
  ['requireFullOffload', { requireFullOffload: true, executionProviders: [{ name: 'webgpu' }] }],
  ['requireFullOffload', { requireFullOffload: true, defaults: { executionProviders: ['wasm'] } }],
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
        runtime: () => import('onnxruntime-web/wasm'),
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
      const adapter = new WebBackendAdapter({ numThreads: 1, executionProviders: [{ name: 'webnn', deviceType: 'npu' }, 'wasm'] }, withWebNn('npu'));
      await adapter.createSession(await tinyBytes(), { executionProviders: ['webnn'] }).catch(() => undefined);
      expect(create.mock.calls.at(-1)?.[1]?.executionProviders).toEqual([{ name: 'webnn', deviceType: 'npu' }]);
    } finally {
      create.mockRestore();
    }
  });

  it('refuses numThreads on webnn: onnxruntime-web 1.30 never passes it to the WebNN context', () => {
    expect(() => webBackend({ executionProviders: [{ name: 'webnn', deviceType: 'cpu', numThreads: 4 } as never] })).toThrow(
      /executionProviders\[0\]\.numThreads: onnxruntime-web 1\.30 creates the WebNN context with deviceType and powerPreference only/,
    );
  });

  it('gives a session only the providers available here, so executionProviders says what it runs on', async () => {
    const warn = vi.spyOn(console, 'warn');
    try {
      // Under Node.js onnxruntime-web has no WebGPU: it would drop it with a console warning while the session named it.
      const session = await new WebBackendAdapter({ numThreads: 1, executionProviders: ['webgpu', 'wasm'] }).createSession(await tinyBytes());
      expect((session as WebSession).executionProviders).toEqual(['wasm']);
      expect(warn.mock.calls.flat().join(' ')).not.toMatch(/removing requested execution provider/);
      await session.release();
    } finally {
      warn.mockRestore();
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

describe('requireFullOffload (WebNN)', () => {
  it('refuses lists other than one webnn entry, saying why', () => {
    expect(() => webBackend({ requireFullOffload: true })).toThrow(/requireFullOffload needs executionProviders to be exactly one webnn entry .*got wasm/);
    expect(() => webBackend({ requireFullOffload: true, executionProviders: [{ name: 'webnn' }, 'wasm'] })).toThrow(/got webnn, wasm\. With it the graph runs wholly on WebNN or fails to load/);
    expect(() => webBackend({ requireFullOffload: true, executionProviders: ['webgpu'] })).toThrow(
      /requireFullOffload works with WebNN only, and executionProviders has webgpu: onnxruntime-web's WebGPU provider hands shape computations to the CPU on purpose/,
    );
    expect(() => webBackend({ requireFullOffload: true, executionProviders: [{ name: 'webnn', deviceType: 'npu' }] })).not.toThrow();
    expect(() => webBackend({ requireFullOffload: false })).not.toThrow();
  });

  it('maps to onnxruntime session config session.disable_cpu_ep_fallback', () => {
    expect(toOrtWebOptions({}, [{ name: 'webnn', deviceType: 'npu' }], { requireFullOffload: true })).toEqual({
      executionProviders: [{ name: 'webnn', deviceType: 'npu' }],
      logSeverityLevel: 3,
      extra: { session: { disable_cpu_ep_fallback: '1' } },
    });
    expect(toOrtWebOptions({}, [{ name: 'webnn' }])).not.toHaveProperty('extra');
  });

  it('reaches onnxruntime-web, which then refuses a graph whose nodes would run on wasm', async () => {
    // Node's onnxruntime-web has no WebNN, so the session is made on wasm alone with the options
    // built for WebNN: the case of a WebNN that takes none of the graph's nodes. Every node then
    // falls to onnxruntime's CPU (wasm) provider, which the flag forbids.
    const real = ort.InferenceSession.create.bind(ort.InferenceSession) as (bytes: Uint8Array, options: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>;
    const create = vi.spyOn(ort.InferenceSession, 'create').mockImplementation(((bytes: Uint8Array, options: ort.InferenceSession.SessionOptions) =>
      real(bytes, { ...options, executionProviders: ['wasm'] })) as never);
    try {
      const adapter = new WebBackendAdapter({ numThreads: 1, executionProviders: [{ name: 'webnn', deviceType: 'npu' }], requireFullOffload: true }, withWebNn('npu'));
      const error = await adapter.createSession(await tinyBytes()).catch((e: unknown) => e);
      expect(create.mock.calls.at(-1)?.[1]).toMatchObject({ executionProviders: [{ name: 'webnn', deviceType: 'npu' }], extra: { session: { disable_cpu_ep_fallback: '1' } } });
      expect(BackendError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(
        /fallback to CPU EP has been explicitly disabled by the user\. \(requireFullOffload: WebNN cannot run every node of this graph, and onnxruntime-web would have run the rest on wasm; turn requireFullOffload off to allow that\)/,
      );
      // The same graph and provider list without the flag loads (on wasm, here).
      const plain = await new WebBackendAdapter({ numThreads: 1, executionProviders: [{ name: 'webnn', deviceType: 'npu' }] }, withWebNn('npu')).createSession(await tinyBytes());
      await plain.release();
    } finally {
      create.mockRestore();
    }
  });

  it('checks a per-load list too, before loading anything', async () => {
    const adapter = new WebBackendAdapter({ executionProviders: [{ name: 'webnn' }], requireFullOffload: true }, withWebNn());
    await expect(adapter.createSession(await tinyBytes(), { executionProviders: ['wasm'] })).rejects.toMatchObject({
      code: 'invalid-options',
      option: 'requireFullOffload',
      message: expect.stringMatching(/requireFullOffload needs session\.executionProviders to be exactly one webnn entry/),
    });
  });

  it('where WebNN is missing: the probe says so and a session is refused before onnxruntime-web is asked', async () => {
    const adapter = new WebBackendAdapter({ executionProviders: [{ name: 'webnn', deviceType: 'npu' }], requireFullOffload: true });
    expect(await adapter.probe()).toMatchObject({ available: false, reason: expect.stringMatching(/webnn: unavailable, onnxruntime-web's Node\.js build has no WebNN/) });
    await expect(adapter.createSession(await tinyBytes())).rejects.toMatchObject({
      code: 'backend',
      message: expect.stringMatching(/on webnn: it is not available here \(webnn: onnxruntime-web's Node\.js build has no WebNN\)/),
    });
  });

});

describe('misspelled web backend options', () => {
  it.each([
    [{ numthreads: 4 }, 'numthreads', '; did you mean "numThreads"\\?'],
    [{ executionProvider: ['wasm'] }, 'executionProvider', ''],
  ])('are refused, naming the key: %j', (options, key, hint) => {
    for (const make of [() => webBackend(options as never), () => new WebBackendAdapter(options as never)]) {
      expect(make).toThrow(InvalidOptionsError);
      expect(make).toThrow(new RegExp(`webBackend has no option "${key}"${hint} \\(it takes priority, defaults, executionProviders, numThreads, wasmPaths, runtime, requireFullOffload\\)`));
    }
  });

  it('refuses a list where the options object goes', () => {
    expect(() => webBackend([] as never)).toThrow(/web backend options must be an object/);
  });
});
