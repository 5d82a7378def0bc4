import { describe, expect, it, vi } from 'vitest';
import { HfTokenizer, IncrementalDetokenizer } from '../src/index.js';
import { allFamilies, llama2, type FamilyFiles } from './tokenizer-family-fixtures.js';

const build = (f: FamilyFiles): HfTokenizer => new HfTokenizer(structuredClone(f.tokenizerJson), structuredClone(f.tokenizerConfig));

/**
 * Records the length of every id list the tokenizer's library decodes from now on (`at: 'tokenizer'`:
 * every list HfTokenizer decodes, with or without its clean-up, before it drops ids without a token).
 */
function decodeLengths(tokenizer: HfTokenizer, at: 'library' | 'tokenizer' = 'library'): number[] {
  type Decode = (ids: number[], ...rest: unknown[]) => string;
  const target = (at === 'tokenizer' ? tokenizer : (tokenizer as unknown as { core: object }).core) as Record<string, Decode>;
  const method = at === 'tokenizer' ? 'decodeKnown' : 'decode';
  const lengths: number[] = [];
  const decode = target[method]!.bind(target);
  vi.spyOn(target, method).mockImplementation((ids: number[], ...rest: unknown[]) => {
    lengths.push(ids.length);
    return decode(ids, ...rest);
  });
  return lengths;
}

/** Longest window the windowed path may decode: 12 ids, the 3 that may start a character, and one more. */
const BOUND = 16;

describe('incremental detokenizing of long runs that add no text at once', () => {
  // Families decoded through a window of ids (no byte-level pieces), where such runs grew the
  // window, and every decode with it, for as long as they lasted.
  const windowed = allFamilies().filter((f) => build(f).tokenPiece === undefined || f.tokenizerConfig['clean_up_tokenization_spaces'] !== false);

  it.each(windowed.map((f) => [f.name, f] as const))('%s: a run of special tokens keeps the decoded window short', (_name, family) => {
    const tokenizer = build(family);
    const special = Object.values(family.ids)[0]!;
    const before = tokenizer.encode('Hello', { addSpecialTokens: false });
    const after = tokenizer.encode(' world', { addSpecialTokens: false });
    const ids = [...before, ...Array<number>(2000).fill(special), ...after];
    const lengths = decodeLengths(tokenizer);
    const d = new IncrementalDetokenizer(tokenizer);
    const text = ids.map((id) => d.push(id)).join('') + d.flush();
    vi.restoreAllMocks();
    expect(text).toBe(tokenizer.decode(ids));
    expect(Math.max(...lengths)).toBeLessThanOrEqual(BOUND);
  });

  it.each(windowed.map((f) => [f.name, f] as const))('%s: a run of ids beyond the vocabulary (a model with padded embedding rows) keeps the decoded window short', (_name, family) => {
    const tokenizer = build(family);
    const beyond = tokenizer.vocabSize + 7;
    const before = tokenizer.encode('Hello', { addSpecialTokens: false });
    const after = tokenizer.encode(' world', { addSpecialTokens: false });
    const ids = [...before, ...Array<number>(2000).fill(beyond), ...after];
    const lengths = decodeLengths(tokenizer, 'tokenizer');
    const d = new IncrementalDetokenizer(tokenizer);
    const text = ids.map((id) => d.push(id)).join('') + d.flush();
    vi.restoreAllMocks();
    expect(text).toBe(tokenizer.decode(ids));
    expect(Math.max(...lengths)).toBeLessThanOrEqual(BOUND);
  });

  it('a run of invalid byte-fallback bytes comes out as it goes, with a short window', () => {
    const family = llama2();
    const tokenizer = build(family);
    const byte80 = tokenizer.tokenToId('<0x80>')!;
    const hi = tokenizer.encode('Hi', { addSpecialTokens: false });
    const euro = tokenizer.encode('€', { addSpecialTokens: false });
    // A stray continuation byte is never part of a character: each one is a U+FFFD of its own.
    const ids = [...hi, ...Array<number>(500).fill(byte80), ...euro, ...hi];
    const lengths = decodeLengths(tokenizer);
    const d = new IncrementalDetokenizer(tokenizer);
    const deltas = ids.map((id) => d.push(id));
    const text = deltas.join('') + d.flush();
    vi.restoreAllMocks();
    expect(text).toBe(tokenizer.decode(ids));
    expect(Math.max(...lengths)).toBeLessThanOrEqual(BOUND);
    // Out while the run lasts, not all at its end.
    const during = deltas.slice(0, hi.length + 250).join('');
    expect([...during].filter((c) => c === '\uFFFD').length).toBeGreaterThanOrEqual(240);
    // The character after the run is still whole.
    expect(text).toContain('€');
  });
});
