/**
 * What building an `HfTokenizer` encodes: the load probes the tokenizer with one word (to find the
 * ids its post-processor adds, and so that a part that fails only on use fails the load), and
 * encodes each probe once per post-processor. Counted with a spy on the library's `encode`.
 */
import { Tokenizer as HfTokenizerCore } from '@huggingface/tokenizers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HfTokenizer } from '../src/index.js';
import { llama2, qwen2, type FamilyFiles } from './tokenizer-family-fixtures.js';

/** One call of the library's `encode`: its text, whether it added specials, and which post-processor the tokenizer had (0: the first one seen). */
interface EncodeCall {
  readonly text: string;
  readonly specials: boolean;
  readonly postProcessor: number;
}

/** Builds `family`'s tokenizer (its config overridden by `config`) and returns every encode the build made, in order. */
function encodesOfBuild(family: FamilyFiles, config: Record<string, unknown> = {}): { tokenizer: HfTokenizer; calls: EncodeCall[] } {
  const calls: EncodeCall[] = [];
  const processors: unknown[] = [];
  const encode = HfTokenizerCore.prototype.encode;
  const spy = vi.spyOn(HfTokenizerCore.prototype, 'encode').mockImplementation(function (this: HfTokenizerCore, text: string, options?: { add_special_tokens?: boolean }) {
    if (!processors.includes(this.post_processor)) processors.push(this.post_processor);
    calls.push({ text, specials: options?.add_special_tokens ?? true, postProcessor: processors.indexOf(this.post_processor) });
    return Reflect.apply(encode, this, [text, options]) as ReturnType<HfTokenizerCore['encode']>;
  });
  try {
    const tokenizer = new HfTokenizer(structuredClone(family.tokenizerJson), { ...structuredClone(family.tokenizerConfig), ...config });
    return { tokenizer, calls };
  } finally {
    spy.mockRestore();
  }
}

/** `config` without `keys`. */
const without = (config: Record<string, unknown>, ...keys: string[]): Record<string, unknown> => Object.fromEntries(Object.entries(config).filter(([k]) => !keys.includes(k)));

afterEach(() => {
  vi.restoreAllMocks();
});

describe('HfTokenizer: encodes while it is built', () => {
  it("without add_bos_token / add_eos_token: the probe word once each way (tokenizer.json's post-processor), then the chat template's render", () => {
    const family = llama2();
    const { tokenizer, calls } = encodesOfBuild({ ...family, tokenizerConfig: without(family.tokenizerConfig, 'add_bos_token', 'add_eos_token') });
    expect(calls.map((c) => [c.text, c.specials, c.postProcessor])).toEqual([
      ['Hello', false, 0],
      ['Hello', true, 0],
      [expect.stringContaining('[INST] Hello [/INST]'), false, 0],
    ]);
    // What the probe found is what the tokenizer does.
    expect(tokenizer.encode('Hello')).toEqual([family.ids['<s>'], ...tokenizer.encode('Hello', { addSpecialTokens: false })]);
  });

  it("with the flags: the probe word once each way under tokenizer.json's post-processor and once each way under the one the flags build", () => {
    const family = llama2();
    const { tokenizer, calls } = encodesOfBuild(family, { add_bos_token: true, add_eos_token: true });
    expect(calls.map((c) => [c.text, c.specials, c.postProcessor])).toEqual([
      ['Hello', false, 0],
      ['Hello', true, 0],
      ['Hello', false, 1],
      ['Hello', true, 1],
      [expect.stringContaining('[INST] Hello [/INST]'), false, 1],
    ]);
    const bare = tokenizer.encode('Hello', { addSpecialTokens: false });
    expect(tokenizer.encode('Hello')).toEqual([family.ids['<s>'], ...bare, family.ids['</s>']]);
  });

  it('no encode repeats: the same text, specials and post-processor are never encoded twice (tokenizers with and without a BOS, a template, the flags)', () => {
    const builds = [
      encodesOfBuild(llama2()),
      encodesOfBuild(llama2(), { add_bos_token: false, add_eos_token: true }),
      encodesOfBuild(qwen2()),
      encodesOfBuild(qwen2(), { chat_template: null }),
    ];
    for (const { calls } of builds) {
      const keys = calls.map((c) => JSON.stringify([c.text, c.specials, c.postProcessor]));
      expect(keys.length).toBeGreaterThan(0);
      expect(new Set(keys).size).toBe(keys.length);
    }
    // Without a chat template, only the probe word, once each way.
    expect(builds[3]!.calls.map((c) => [c.text, c.specials])).toEqual([
      ['Hello', false],
      ['Hello', true],
    ]);
  });
});
