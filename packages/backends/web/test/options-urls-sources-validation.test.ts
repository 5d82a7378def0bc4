import { describe, expect, it } from 'vitest';
import { BackendError, InvalidOptionsError, type ModelSource } from '@weft/core';
import { WebBackendAdapter, webBackend } from '../src/index.js';
import { refusal } from './option-refusal.js';
import { normaliseWebOptions } from '../src/web-backend-options.js';

describe('wasmPaths as a URL object (review 31)', () => {
  it('takes a URL prefix as its href (before: accepted and turned into {}, so ignored)', () => {
    expect(normaliseWebOptions({ wasmPaths: new URL('http://cdn.example/ort/') }).wasmPaths).toBe('http://cdn.example/ort/');
    expect(normaliseWebOptions({ wasmPaths: new URL('./ort/', 'https://app.example/assets/main.js') }).wasmPaths).toBe('https://app.example/assets/ort/');
  });

  it('takes URL objects for wasm and mjs as their href, as onnxruntime-web does', () => {
    const paths = normaliseWebOptions({ wasmPaths: { wasm: new URL('http://x.test/a.wasm'), mjs: 'http://x.test/a.mjs' } }).wasmPaths;
    expect(paths).toEqual({ wasm: 'http://x.test/a.wasm', mjs: 'http://x.test/a.mjs' });
  });

  it.each([
    ['a String object', () => new String('/ort/'), 'a String object'],
    ['a Date', () => new Date(0), 'a Date object'],
    ['a class instance', () => new (class Paths {})(), 'a Paths object'],
    ['a class instance with wasm', () => Object.assign(new (class Paths {})(), { wasm: '/a.wasm' }), 'a Paths object'],
  ])('refuses %s, which has no options of its own, with an InvalidOptionsError naming wasmPaths', (_, make, kind) => {
    const error = refusal({ wasmPaths: make() });
    expect(error.option).toBe('wasmPaths');
    expect(error.message).toBe(`wasmPaths must be a URL prefix (a string or a URL) or a plain { wasm?, mjs? } object; got ${kind}.`);
  });

  it('still takes plain objects, null-prototype ones included, and refuses a URL whose href cannot be read', () => {
    expect(normaliseWebOptions({ wasmPaths: Object.assign(Object.create(null) as object, { wasm: '/a.wasm' }) }).wasmPaths).toEqual({ wasm: '/a.wasm' });
    const broken = new (class extends URL {
      override get href(): string {
        throw new Error('href boom');
      }
    })('http://x.test/');
    expect(refusal({ wasmPaths: broken })).toMatchObject({ option: 'wasmPaths', message: 'wasmPaths could not be read: href boom' });
  });
});

describe('the webgpu validationMode (review 31)', () => {
  it("is refused without a runtime: onnxruntime-web's default build never reads it", () => {
    const error = refusal({ executionProviders: ['wasm', { name: 'webgpu', validationMode: 'full' }] });
    expect(error.option).toBe('executionProviders[1].validationMode');
    expect(error.message).toMatch(/^executionProviders\[1\]\.validationMode: onnxruntime-web's default build, .* never reads it, so it would be ignored; only its WebGPU builds do: add runtime: \(\) => import\('onnxruntime-web\/webgpu'\), or remove validationMode\.$/);
  });

  it('is accepted with a runtime (the application picks the build), and preferredLayout stays accepted without one', () => {
    expect(() => webBackend({ runtime: () => import('onnxruntime-web/webgpu'), executionProviders: [{ name: 'webgpu', validationMode: 'disabled' }] })).not.toThrow();
    expect(() => webBackend({ executionProviders: [{ name: 'webgpu', preferredLayout: 'NHWC' }] })).not.toThrow();
  });
});

describe('createSession with what is not a model source (review 31)', () => {
  it.each([
    ['null', null, 'source', "The model source must be { kind: 'path', path } or { kind: 'bytes', bytes }; got null."],
    ['an unknown kind', { kind: 'weird' }, 'source', `The model source must be { kind: 'path', path } or { kind: 'bytes', bytes }; got kind "weird".`],
    ['a path that is not a string', { kind: 'path', path: 42 }, 'source.path', "The model source's path must be a non-empty string; got 42."],
  ])('%s is an InvalidOptionsError (before: a bare TypeError)', async (_, source, option, message) => {
    const attempt = new WebBackendAdapter().createSession(source as unknown as ModelSource);
    await expect(attempt).rejects.toThrow(InvalidOptionsError);
    await expect(attempt).rejects.toMatchObject({ option, message });
  });
});

describe('validateSessionOptions (asked of failover fallbacks at load)', () => {
  it('throws what createSession would for provider names that are not the web backend\'s, without opening anything', async () => {
    const adapter = new WebBackendAdapter();
    await expect(adapter.validateSessionOptions({ executionProviders: ['cpu'] })).rejects.toThrow(InvalidOptionsError);
    // One foreign name among its own is refused too (a probe comparison would have let it through).
    await expect(adapter.validateSessionOptions({ executionProviders: ['wasm', 'cpu'] })).rejects.toThrow(/executionProviders\[1\]/);
    await expect(adapter.validateSessionOptions({ executionProviders: [42 as never] })).rejects.toThrow(InvalidOptionsError);
    await adapter.validateSessionOptions({ executionProviders: ['wasm'] });
    // createSession runs on the available ones (wasm here).
    await adapter.validateSessionOptions({ executionProviders: ['webgpu', 'wasm'] });
    await adapter.validateSessionOptions({ intraOpNumThreads: 1 });
    await adapter.validateSessionOptions({});
  });

  it('throws the BackendError createSession would when no named provider is available here (WebGPU, WebNN under Node.js)', async () => {
    const adapter = new WebBackendAdapter();
    const error = await adapter.validateSessionOptions({ executionProviders: ['webgpu'] }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as Error).message).toMatch(/^onnxruntime-web cannot run on webgpu: it is not available here \(webgpu: /);
    await expect(adapter.validateSessionOptions({ executionProviders: ['webgpu', 'webnn'] })).rejects.toThrow(/none of them is available here/);
  });

  it('holds a named provider to requireFullOffload, as createSession does', async () => {
    const adapter = new WebBackendAdapter({ requireFullOffload: true, executionProviders: ['webnn'] });
    await expect(adapter.validateSessionOptions({ executionProviders: ['webnn', 'wasm'] })).rejects.toThrow(/requireFullOffload/);
    // Passes the option check; WebNN is then not available under Node.js.
    await expect(adapter.validateSessionOptions({ executionProviders: ['webnn'] })).rejects.toThrow(BackendError);
  });
});
