import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '@weft/core';
import { NpuBackendAdapter, npuBackend } from '../src/index.js';

describe('npu backend options', () => {
  it('refuses a misspelled option instead of ignoring it', () => {
    for (const make of [() => npuBackend({ fallbak: 'none' } as never), () => new NpuBackendAdapter({ fallbak: 'none' } as never)]) {
      expect(make).toThrow(InvalidOptionsError);
      expect(make).toThrow(/npuBackend has no option "fallbak" \(it takes priority, defaults, providers, fallback, requireFullOffload, onEvent, facts, sessionFactory\)/);
    }
  });

  it('refuses facts.runtimeProviders entries that are not { name, bundled }', () => {
    const facts = { platform: 'linux', arch: 'x64', runtimeProviders: ['qnn'] };
    expect(() => npuBackend({ facts } as never)).toThrow(/facts\.runtimeProviders must be an array of \{ name, bundled \}/);
    expect(() => npuBackend({ facts: { ...facts, runtimeProviders: [{ name: 'qnn', bundled: true }] } } as never)).not.toThrow();
  });
});
