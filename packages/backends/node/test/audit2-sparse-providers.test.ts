import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkSessionOptions, createWeft, InvalidOptionsError } from '@weft/core';
import { nodeBackend } from '../src/index.js';

const tinyModel = fileURLToPath(new URL('../../../core/test/fixtures/tiny', import.meta.url));

/**
 * A sparse `executionProviders` list passed the session-option check (`every` skips holes) and
 * reached onnxruntime-node as undefined: a TypeError reported as a ModelLoadError blaming the
 * model file. Holes are refused where the options are given, naming the index.
 */
describe('holes in executionProviders', () => {
  const hole = /executionProviders\[(\d)\] is missing: the list has a hole or undefined there \(as in \[, 'cpu'\]\); remove the extra comma\./;

  it('are refused by core’s session-option check, at any index', () => {
    // eslint-disable-next-line no-sparse-arrays
    for (const [providers, index] of [[[, 'cpu'], 0], [['cpu', , 'cpu'], 1], [new Array(2), 0]] as const) {
      const make = (): unknown => checkSessionOptions({ executionProviders: providers }, 'defaults');
      expect(make).toThrow(InvalidOptionsError);
      expect(make).toThrow(hole);
      expect(make).toThrow(`defaults.executionProviders[${index}] is missing`);
    }
    // An undefined item written out is missing too; other values are no names.
    expect(() => checkSessionOptions({ executionProviders: ['cpu', undefined] })).toThrow(/^session\.executionProviders\[1\] is missing/);
    expect(() => checkSessionOptions({ executionProviders: ['cpu', 5] })).toThrow(/session\.executionProviders must be a non-empty list of provider names such as \['cpu'\] \(item 1 is 5\)/);
  });

  it('in nodeBackend defaults fail when the backend is made, not as a model load error', () => {
    // eslint-disable-next-line no-sparse-arrays
    const make = (): unknown => nodeBackend({ defaults: { executionProviders: [, 'cpu'] as never } });
    expect(make).toThrow(InvalidOptionsError);
    expect(make).toThrow(hole);
  });

  it('in a load’s session options fail as an InvalidOptionsError naming the option', async () => {
    const weft = createWeft({ plugins: [nodeBackend()] });
    try {
      // eslint-disable-next-line no-sparse-arrays
      const error = await weft.load(tinyModel, { session: { executionProviders: ['cpu', , ] as never } }).catch((e: unknown) => e);
      expect(InvalidOptionsError.isInstance(error), String(error)).toBe(true);
      expect(error).toMatchObject({ option: 'session.executionProviders[1]' });
      expect((error as Error).message).toMatch(/session\.executionProviders\[1\] is missing/);
    } finally {
      await weft.dispose();
    }
  });
});
