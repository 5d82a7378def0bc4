import { describe, expect, it } from 'vitest';
import { BackendError, InvalidOptionsError } from '@weft/core';
import { NpuBackendAdapter, npuBackend, validateNpuOptions, type NpuBackendOptions, type NpuEvent, type NpuSessionFactory } from '../src/index.js';
import { FACTS, invalidOptions, tinyGraph } from './helpers.js';

const invalid = invalidOptions;

describe('npu backend options', () => {
  it('refuses a misspelled option instead of ignoring it', () => {
    for (const make of [() => npuBackend({ fallbak: 'none' } as never), () => new NpuBackendAdapter({ fallbak: 'none' } as never)]) {
      expect(make).toThrow(InvalidOptionsError);
      expect(make).toThrow(/npuBackend has no option "fallbak" \(it takes priority, defaults, providers, fallback, requireFullOffload, onEvent, facts, sessionFactory, providerTimeoutMs\)/);
    }
  });

  it('refuses facts.runtimeProviders entries that are not { name, bundled }', () => {
    const facts = { platform: 'linux', arch: 'x64', runtimeProviders: ['qnn'] };
    expect(() => npuBackend({ facts } as never)).toThrow(/facts\.runtimeProviders must be an array of \{ name, bundled \}/);
    expect(() => npuBackend({ facts: { ...facts, runtimeProviders: [{ name: 'qnn', bundled: true }] } } as never)).not.toThrow();
  });

  it('refuses a hole in a sparse providers list like any other bad entry (it was a TypeError)', () => {
    // eslint-disable-next-line no-sparse-arrays
    const error = invalid(() => validateNpuOptions({ providers: [, 'cpu'] } as never));
    expect(error.option).toBe('providers[0]');
  });

  it('describes any value in "got …" (a BigInt fallback was a TypeError from JSON.stringify)', () => {
    expect(invalid(() => npuBackend({ fallback: 10n } as never)).message).toBe("fallback must be 'cpu' or 'none'; got 10n.");
  });

  it('uses the options as checked: changing them afterwards, or a getter that answers differently later, changes nothing', async () => {
    const asked: string[] = [];
    const factory: NpuSessionFactory = async (r) => {
      asked.push(r.provider.name);
      throw new Error(`${r.provider.name} is not here`);
    };
    const options: { -readonly [K in keyof NpuBackendOptions]: NpuBackendOptions[K] } = { facts: FACTS.windowsArmQnn, sessionFactory: factory, fallback: 'none' };
    const adapter = new NpuBackendAdapter(options);
    options.fallback = 'gpu' as never; // never checked
    options.sessionFactory = () => Promise.reject(new Error('not this one'));
    await expect(adapter.createSession({ kind: 'path', path: tinyGraph })).rejects.toThrow(/qnn \(failed: qnn is not here\); dml \(failed: dml is not here\)$/);
    expect(asked).toEqual(['qnn', 'dml']);

    let reads = 0;
    const shifty = {
      facts: FACTS.linuxX64,
      get fallback() {
        return reads++ === 0 ? 'none' : undefined;
      },
    };
    const checked = new NpuBackendAdapter(shifty as never);
    expect((await checked.plan()).chain).toEqual([]);
    expect(reads).toBe(1);
  });

  it('reports a getter that throws as an InvalidOptionsError naming the option', () => {
    const options = {
      get requireFullOffload(): boolean {
        throw new Error('nope');
      },
    };
    const error = invalid(() => npuBackend(options as never));
    expect(error.option).toBe('requireFullOffload');
    expect(error.message).toBe('requireFullOffload could not be read: nope');
  });

  it('checks every field of facts, and refuses unknown ones (a misspelled runtimeProviders read as "onnxruntime-node is not loadable")', () => {
    const base = { platform: 'linux', arch: 'x64' };
    expect(invalid(() => npuBackend({ facts: { ...base, runtimeProvider: [{ name: 'cpu', bundled: true }] } } as never)).option).toBe('facts.runtimeProvider');
    expect(invalid(() => npuBackend({ facts: { ...base, webnn: true } } as never)).option).toBe('facts.webnn');
    expect(invalid(() => npuBackend({ facts: { ...base, webnn: { npu: 'yes' } } } as never)).option).toBe('facts.webnn');
    expect(invalid(() => npuBackend({ facts: { ...base, runtimeError: 42 } } as never)).option).toBe('facts.runtimeError');
    expect(() => npuBackend({ facts: { ...base, webnn: { npu: false, reason: 'Node.js has no WebNN' }, runtimeError: 'x' } } as never)).not.toThrow();
  });

  it('plans with the facts as checked: entries changed after construction are not read', async () => {
    const runtimeProviders = [{ name: 'cpu', bundled: true }];
    const adapter = new NpuBackendAdapter({ facts: { platform: 'linux', arch: 'x64', runtimeProviders } });
    runtimeProviders.push({ name: 'openvino', bundled: true });
    (runtimeProviders[0] as { bundled: unknown }).bundled = 'sometimes';
    const plan = await adapter.plan();
    expect(plan.chain.map((p) => p.name)).toEqual(['cpu']);
    expect(plan.skipped.map((s) => s.provider)).toEqual(['openvino']);
  });

  it('refuses a provider named twice in per-load executionProviders (it was tried, with its events, twice)', async () => {
    const seen: NpuEvent[] = [];
    const adapter = new NpuBackendAdapter({ facts: FACTS.linuxX64, sessionFactory: () => Promise.reject(new Error('no')), onEvent: (e) => seen.push(e) });
    await expect(adapter.createSession({ kind: 'path', path: tinyGraph }, { executionProviders: ['cpu', 'cpu'] })).rejects.toMatchObject({
      code: 'invalid-options',
      option: 'executionProviders',
      message: 'executionProviders lists cpu twice.',
    });
    expect(seen).toEqual([]);
    expect(invalid(() => npuBackend({ defaults: { executionProviders: ['cpu', 'cpu'] } })).option).toBe('defaults.executionProviders');
  });

  it.each<[unknown]>([[0], [-1], [1.5], [NaN], [2 ** 31], ['100']])('refuses providerTimeoutMs %s', (value) => {
    expect(invalid(() => npuBackend({ providerTimeoutMs: value } as never)).option).toBe('providerTimeoutMs');
  });
});

describe('validateSessionOptions (asked of failover fallbacks at load)', () => {
  it('throws when the options leave no provider to try on this platform, as createSession would, and accepts options that leave one', async () => {
    const linux = new NpuBackendAdapter({ facts: FACTS.linuxX64 });
    const error = await linux.validateSessionOptions({ executionProviders: ['coreml'] }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as Error).message).toMatch(/^No execution provider of the npu backend is left to try on linux x64: coreml \(skipped: not offered/);
    await expect(new NpuBackendAdapter({ facts: FACTS.macArm }).validateSessionOptions({ executionProviders: ['coreml'] })).resolves.toBeUndefined();
    await expect(linux.validateSessionOptions({})).resolves.toBeUndefined();
  });

  it('refuses options createSession refuses, with the same InvalidOptionsError', async () => {
    const adapter = new NpuBackendAdapter({ facts: FACTS.macArm });
    await expect(adapter.validateSessionOptions({ executionProviders: 'coreml' as never })).rejects.toThrow(InvalidOptionsError);
  });
});

describe('createSession with what is not a model source', () => {
  it.each([
    ['null', null, 'source'],
    ['an unknown kind', { kind: 'url', url: 'x' }, 'source'],
    ['a path that is not a string', { kind: 'path', path: 7 }, 'source.path'],
  ])('%s is an InvalidOptionsError naming the source (before: a TypeError or "model bytes are empty")', async (_, source, option) => {
    const attempt = new NpuBackendAdapter({ facts: FACTS.linuxX64 }).createSession(source as never);
    await expect(attempt).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(attempt).rejects.toMatchObject({ option });
  });
});
