import { describe, expect, it } from 'vitest';
import type { HfTokenizer, Tokenizer } from '../src/index.js';
import { buildSpecialTrie, stopPlan } from '../src/generation/text/stop-plan.js';
import { hasStories260k, stories260k, storyModel } from './helpers.js';
import { build, load } from './stream-text-stops-kit.js';
import { gemma, llama3, qwen2 } from './tokenizer-family-fixtures.js';

/**
 * The special tokens a stop string holds are found by their text when the tokenizer lists its
 * added tokens (core's does), so hostile stop lists cost no encoding: an audit's 4096 stops of 55
 * characters took 1.4 s of encoding, blocking the event loop. The plan must be the one encoding
 * gives.
 */

/** `tokenizer` as a plugin's tokenizer that does not list its added tokens, counting its encodes. */
function withoutAddedIds(tokenizer: HfTokenizer): { tokenizer: Tokenizer; encodes: () => number } {
  let encodes = 0;
  const plain: Tokenizer = {
    encode: (text, options) => (encodes++, tokenizer.encode(text, options)),
    decode: (ids, options) => tokenizer.decode(ids, options),
    applyChatTemplate: (messages, options) => tokenizer.applyChatTemplate(messages, options),
    chatTemplateAddsBos: tokenizer.chatTemplateAddsBos,
    tokenToId: (token) => tokenizer.tokenToId(token),
    vocabSize: tokenizer.vocabSize,
  };
  return { tokenizer: plain, encodes: () => encodes };
}

/** `tokenizer`, counting its encodes. */
function counting(tokenizer: HfTokenizer): { tokenizer: Tokenizer; encodes: () => number } {
  let encodes = 0;
  const wrapped = Object.create(tokenizer) as Tokenizer & { encode: Tokenizer['encode'] };
  wrapped.encode = (text, options) => (encodes++, tokenizer.encode(text, options));
  return { tokenizer: wrapped, encodes: () => encodes };
}

/** What a plan decides, comparable. */
function summary(plan: ReturnType<typeof stopPlan>) {
  return {
    endIds: [...(plan.endIds ?? [])].sort(),
    specialIds: [...(plan.specialIds ?? [])].sort(),
    sentinelIds: [...(plan.sentinels?.keys() ?? [])].sort(),
  };
}

const families: [string, () => HfTokenizer, string[]][] = [
  ['gemma', () => build(gemma()), ['<end_of_turn>', '<end_of_turn>\n', 'x<start_of_turn>y<end_of_turn>', 'plain text', '<end_of']],
  ['qwen2', () => build(qwen2()), ['<|im_end|>', '\n<|im_end|>', '<|endoftext|><|im_end|>', 'nothing special', '<|im_']],
  ['llama3', () => build(llama3()), ['<|eot_id|>', '<|eot_id|>\n\n', 'a<|start_header_id|>b', 'hello']],
  ['story', () => load(storyModel), ['<|user|>', 'The end.<|eos|>', '<|assistant|><|user|>', 'Once upon', '<|us']],
];
if (hasStories260k) families.push(['stories260k', () => load(stories260k), ['</s>', 'end</s>\n', '<s>x', 'plain']]);

describe.each(families)('stop plans (%s tokenizer)', (_name, make, stops) => {
  it('are the same found by text as by encoding, stop by stop and all together', () => {
    const tokenizer = make();
    expect(tokenizer.addedTokenIds?.length).toBeGreaterThan(0);
    for (const set of [...stops.map((s) => [s]), stops]) {
      const byText = counting(tokenizer);
      const byEncoding = withoutAddedIds(tokenizer);
      expect(summary(stopPlan(byText.tokenizer, set)), JSON.stringify(set)).toEqual(summary(stopPlan(byEncoding.tokenizer, set)));
      expect(byText.encodes()).toBe(0);
      expect(byEncoding.encodes()).toBeGreaterThan(0);
    }
  });
});

describe('a long list of long stop strings', () => {
  it('is planned without encoding any of them, special tokens inside included', () => {
    const tokenizer = counting(load(storyModel));
    const stops = Array.from({ length: 4096 }, (_, i) => `${'filler words to make it long '.repeat(2)}${i}${i % 97 === 0 ? '<|user|>' : ''}`);
    const plan = stopPlan(tokenizer.tokenizer, stops);
    expect(tokenizer.encodes()).toBe(0);
    expect([...(plan.sentinels?.keys() ?? [])]).toEqual([load(storyModel).tokenToId('<|user|>')]);
  });
});

describe("a plugin's tokenizer's addedTokenIds", () => {
  it('are taken, copied and frozen, when they are ids of its vocabulary, and left out otherwise', async () => {
    const { GuardedTokenizer } = await import('../src/tokenizer/guarded-tokenizer.js');
    const inner = load(storyModel);
    const given = (ids: unknown): Tokenizer => Object.assign(Object.create(inner) as Tokenizer, { addedTokenIds: ids });
    const ids = [0, 1, 2];
    const guarded = new GuardedTokenizer(given(ids), 'p', 't');
    expect(guarded.addedTokenIds).toEqual([0, 1, 2]);
    expect(guarded.addedTokenIds).not.toBe(ids);
    expect(Object.isFrozen(guarded.addedTokenIds)).toBe(true);
    for (const bad of [[-1], [inner.vocabSize], [1.5], ['1'], 'x', new Proxy([], { get: () => { throw new Error('boom'); } })]) {
      expect(new GuardedTokenizer(given(bad), 'p', 't').addedTokenIds).toBeUndefined();
    }
  });
});

describe('a tokenizer with many special tokens sharing their first characters (Llama 3 has 256)', () => {
  it('gives the plan encoding gives, the longest special at each position', async () => {
    const { HfTokenizer } = await import('../src/index.js');
    const family = llama3();
    const json = structuredClone(family.tokenizerJson) as { added_tokens: { id: number; content: string }[] };
    let id = Math.max(...json.added_tokens.map((t) => t.id)) + 1;
    for (let i = 8; i < 248; i++) json.added_tokens.push({ id: id++, content: `<|reserved_special_token_${i}|>`, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true } as never);
    const tokenizer = new HfTokenizer(json, structuredClone(family.tokenizerConfig));
    expect(tokenizer.addedTokenIds.length).toBeGreaterThan(250);
    const stops = ['<|reserved_special_token_9|>', 'a<|reserved_special_token_99|>b', '<|reserved_special_token_9', '<'.repeat(300), '<|eot_id|><|reserved_special_token_100|>', '<|<|eot_id|'];
    for (const set of [...stops.map((s) => [s]), stops]) {
      const byText = counting(tokenizer);
      expect(summary(stopPlan(byText.tokenizer, set)), JSON.stringify(set)).toEqual(summary(stopPlan(withoutAddedIds(tokenizer).tokenizer, set)));
      expect(byText.encodes()).toBe(0);
    }
  });
});

describe('two added tokens with the same text', () => {
  it('are the later id, as tokenToId and encoding take', () => {
    // A tokenizer whose ids 5 and 7 are both the special "<dup>" (decoding skips them).
    const inner = load(storyModel);
    const tokenizer: Tokenizer = Object.assign(Object.create(inner) as Tokenizer, {
      addedTokenIds: [5, 7],
      decode: (ids: readonly number[], options?: { readonly skipSpecialTokens?: boolean }) =>
        ids.length === 1 && (ids[0] === 5 || ids[0] === 7) ? (options?.skipSpecialTokens === false ? '<dup>' : '') : inner.decode(ids, options),
      tokenToId: (token: string) => (token === '<dup>' ? 7 : inner.tokenToId(token)),
    });
    expect([...(stopPlan(tokenizer, ['a<dup>']).sentinels?.keys() ?? [])]).toEqual([7]);
    expect([...(stopPlan(tokenizer, ['<dup>']).endIds ?? [])]).toEqual([7]);
  });
});

describe('a plugin tokenizer whose decode fails on one of its added ids', () => {
  it('still plans its stops: they are encoded instead, as for a tokenizer that does not list them (review 28)', async () => {
    const { GuardedTokenizer } = await import('../src/tokenizer/guarded-tokenizer.js');
    const inner = load(storyModel);
    const bad = inner.addedTokenIds.at(-1)!;
    let encodes = 0;
    const plugin: Tokenizer = Object.assign(Object.create(inner) as Tokenizer, {
      addedTokenIds: [...inner.addedTokenIds],
      encode: (text: string, options?: { readonly addSpecialTokens?: boolean }) => (encodes++, inner.encode(text, options)),
      decode: (ids: readonly number[], options?: { readonly skipSpecialTokens?: boolean }) => {
        if (ids.length === 1 && ids[0] === bad) throw new Error('cannot decode a lone special');
        return inner.decode(ids, options);
      },
    });
    const tokenizer = new GuardedTokenizer(plugin, 'p', 't');
    for (let request = 0; request < 2; request++) {
      const plan = stopPlan(tokenizer, ['The end.', 'a<|user|>']);
      expect([...(plan.sentinels?.keys() ?? [])]).toEqual([inner.tokenToId('<|user|>')]);
    }
    // Encoded once each; the second request found them in the cache of encoded stops.
    expect(encodes).toBe(2);
  });
});

describe('a special token longer than any stop string', () => {
  it('is left out of the text lookup: no stop can hold it (review 28: 1 MB specials cost 475 ms and 241 MB)', () => {
    const inner = load(storyModel);
    const huge = 'x'.repeat(70_000);
    const tokenizer: Tokenizer = Object.assign(Object.create(inner) as Tokenizer, {
      addedTokenIds: [5],
      decode: (ids: readonly number[], options?: { readonly skipSpecialTokens?: boolean }) =>
        ids.length === 1 && ids[0] === 5 ? (options?.skipSpecialTokens === false ? huge : '') : inner.decode(ids, options),
    });
    // A stop of the longest length allowed that starts with the special's text holds no special.
    const plan = stopPlan(tokenizer, [huge.slice(0, 65_536)]);
    expect(plan.sentinels).toBeUndefined();
    expect(plan.endIds).toBeUndefined();
    // The lookup holds no node for it (one per UTF-16 unit before), and a short special is kept.
    expect(buildSpecialTrie([5], () => huge)).toBeNull();
    expect(buildSpecialTrie([5, 6], (id) => (id === 5 ? huge : '<s>'))?.next.get('<')?.next.get('s')?.next.get('>')?.id).toBe(6);
  });
});
