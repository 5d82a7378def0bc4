import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../src/index.js';
import { storyModel } from './helpers.js';
import { load } from './stream-text-stops-kit.js';

/** `model.tokenizer` is public: wrong arguments from JavaScript get a typed error, not a library TypeError. */
describe('HfTokenizer arguments', () => {
  const t = load(storyModel);
  const ids = t.encode('Once upon a time', { addSpecialTokens: false });

  it('encode takes a string', () => {
    for (const bad of [5, undefined, null, ['Once'], { text: 'Once' }]) {
      expect(() => t.encode(bad as unknown as string), String(bad)).toThrow(InvalidOptionsError);
    }
    expect(() => t.encode(5 as unknown as string)).toThrow('encode takes a string, not 5.');
  });

  it('decode takes an array of ids or an integer typed array', () => {
    expect(t.decode(Int32Array.from(ids) as unknown as number[])).toBe(t.decode(ids));
    expect(t.decode(Uint16Array.from(ids) as unknown as number[])).toBe(t.decode(ids));
    for (const bad of ['abc', 7, undefined, { length: 1, 0: ids[0] }, new Float32Array(ids), new BigInt64Array(2)]) {
      expect(() => t.decode(bad as unknown as number[]), String(bad)).toThrow(InvalidOptionsError);
    }
  });
});
