import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HfTokenizer, IncrementalDetokenizer, InvalidOptionsError, ModelLoadError, seededRandom, type Tokenizer } from '../src/index.js';
import { promptIds } from '../src/generation/prompt-ids.js';
import { cleanUpSpaces, settledLength } from '../src/tokenizer/clean-up-spaces.js';
import { GuardedTokenizer } from '../src/tokenizer/guarded-tokenizer.js';
import { parseGenerationConfig } from '../src/model/generation-config.js';
import { parseModelConfig } from '../src/model/model-config.js';
import { tinyFolderWith } from './family-model-folder.js';
import { collect, done, fixture, runtime } from './helpers.js';
import { serveFolder } from './serve-folder.js';
import {
  allFamilies, gemma, gpt2, llama2, llama3, qwen2, LLAMA3_TEMPLATE, MISTRAL_TEMPLATE, QWEN2_TEMPLATE, SAMPLES, UNMERGEABLE, type FamilyFiles,
} from './tokenizer-family-fixtures.js';

const build = (f: FamilyFiles, config: Record<string, unknown> = {}): HfTokenizer =>
  new HfTokenizer(structuredClone(f.tokenizerJson), { ...structuredClone(f.tokenizerConfig), ...config });

/** Streams `ids` (after `context`) and returns every delta, the flushed rest last. */
function stream(tokenizer: Tokenizer, ids: readonly number[], context: readonly number[] = []): string[] {
  const d = new IncrementalDetokenizer(tokenizer, context);
  return [...ids.map((id) => d.push(id)), d.flush()];
}

/** Families whose chat template (or tokenizer) puts a BOS first, with its id. */
const bosOf = (f: FamilyFiles): number | undefined =>
  f.ids['<|begin_of_text|>'] ?? f.ids['<bos>'] ?? (f.name.startsWith('llama2') || f.name.startsWith('mistral') ? f.ids['<s>'] : undefined);

/** Largest id in tokenizer.json, vocabulary and added tokens together. */
function largestId(f: FamilyFiles): number {
  const model = f.tokenizerJson['model'] as { vocab: Record<string, number> };
  const added = f.tokenizerJson['added_tokens'] as { id: number }[];
  return Math.max(...Object.values(model.vocab), ...added.map((t) => t.id));
}

/** Strings whose ids exercise the detokenizer: clean-up patterns, split characters, spaces, newlines. */
const TRICKY = [" ' ", " n't", " 's", ' .', ' ,', ' !', ' ?', '  ', 'é', '猫', '🦊', '👩‍💻', '\n', ' \n ', 'x', ' n', "'", 'a ', ' the'];

describe.each(allFamilies().map((f) => [f.name, f] as const))('%s tokenizer', (_name, family) => {
  const tokenizer = build(family);
  const specialIds = Object.values(family.ids);
  const cleansUp = family.tokenizerConfig['clean_up_tokenization_spaces'] !== false;

  it('builds, with vocabSize one more than the largest id, added tokens included', () => {
    expect(tokenizer.vocabSize).toBe(largestId(family) + 1);
    for (const [content, id] of Object.entries(family.ids)) expect(tokenizer.tokenToId(content)).toBe(id);
  });

  it('round-trips ASCII, accents, CJK, emoji, rare characters, code and spaces', () => {
    for (const [kind, text] of Object.entries(SAMPLES)) {
      const ids = tokenizer.encode(text, { addSpecialTokens: false });
      expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize), kind).toBe(true);
      // Metaspace with prepend_scheme "first" adds no ▁ before a leading space, and the decoder
      // removes one: a leading space is lost, as in Hugging Face's own tokenizers.
      const expected = family.name.includes('metaspace') && text.startsWith(' ') ? text.slice(1) : text;
      expect(tokenizer.decode(ids), kind).toBe(expected);
    }
  });

  it('round-trips text with added and special tokens in it', () => {
    const specials = Object.keys(family.ids).filter((t) => !t.startsWith('<0x'));
    const text = `Hi${specials[0]}there ${specials.at(-1)} 猫 🦊${specials[1] ?? ''}end`;
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    for (const s of specials.slice(0, 2)) expect(ids).toContain(family.ids[s]);
    const decoded = tokenizer.decode(ids, { skipSpecialTokens: false });
    if (family.name === 'llama2-legacy') {
      // The legacy layout prepends ▁ to the text after each added token (Hugging Face's
      // `legacy: true` behaviour, whatever the config's `legacy` flag says).
      expect(decoded).toBe(text.replace(/(<unk>|<s>|<\/s>)(?=.)/g, '$1 '));
    } else {
      expect(decoded).toBe(text);
    }
  });

  it('streams exactly the decode of the whole sequence, for random ids with specials and split characters', () => {
    const random = seededRandom(31);
    const wide = [...new Set([...TRICKY.flatMap((t) => tokenizer.encode(t, { addSpecialTokens: false })), ...specialIds])];
    const pick = (): number => (random() < 0.6 ? wide[Math.floor(random() * wide.length)]! : Math.floor(random() * tokenizer.vocabSize));
    for (let trial = 0; trial < 400; trial++) {
      const ids = Array.from({ length: 1 + Math.floor(random() * 40) }, pick);
      const deltas = stream(tokenizer, ids);
      expect(deltas.join(''), JSON.stringify(ids)).toBe(tokenizer.decode(ids));
      // Half a character never comes out before the end.
      if (!tokenizer.decode(ids).includes('\uFFFD')) expect(deltas.some((d) => d.includes('\uFFFD'))).toBe(false);
    }
  });

  it('streams after prompt context ids what the whole sequence adds to the context’s text', () => {
    const random = seededRandom(37);
    const wide = [...new Set([...TRICKY.flatMap((t) => tokenizer.encode(t, { addSpecialTokens: false })), ...specialIds])];
    const pick = (): number => (random() < 0.6 ? wide[Math.floor(random() * wide.length)]! : Math.floor(random() * tokenizer.vocabSize));
    let checked = 0;
    for (let trial = 0; trial < 400; trial++) {
      const context = Array.from({ length: Math.floor(random() * 8) }, pick);
      const ids = Array.from({ length: 1 + Math.floor(random() * 30) }, pick);
      const joined = stream(tokenizer, ids, context).join('');
      // The window decodes at most the context's last 4 ids (its first token may lose a leading space).
      const before = tokenizer.decode(context.slice(-4));
      const whole = tokenizer.decode([...context.slice(-4), ...ids]);
      if (before.endsWith('\uFFFD')) {
        // The prompt ended inside a character: the stream carries on from there.
        expect(whole.endsWith(joined), JSON.stringify({ context, ids })).toBe(true);
        continue;
      }
      if (cleansUp && !whole.startsWith(before)) continue; // clean-up joined the prompt's text and the new text
      expect(before + joined, JSON.stringify({ context, ids })).toBe(whole);
      checked++;
    }
    expect(checked).toBeGreaterThan(200);
  });
});

describe('clean-up of spaces in streams (Llama 3, and GPT-2 files that do not turn it off)', () => {
  it('cleans up the settled part of each piece to what cleaning up the whole text gives, however the text is cut', () => {
    const random = seededRandom(41);
    const alphabet = [' ', ' ', ' ', "'", 'n', 't', 'm', 's', 'v', 'e', 'r', '.', ',', '?', '!', 'x'];
    for (let trial = 0; trial < 5000; trial++) {
      const text = Array.from({ length: 1 + Math.floor(random() * 16) }, () => alphabet[Math.floor(random() * alphabet.length)]!).join('');
      let pending = '';
      let out = '';
      for (let i = 0; i < text.length; ) {
        const piece = text.slice(i, (i += 1 + Math.floor(random() * 3)));
        pending += piece;
        const n = settledLength(pending);
        out += cleanUpSpaces(pending.slice(0, n));
        pending = pending.slice(n);
      }
      expect(out + cleanUpSpaces(pending), JSON.stringify(text)).toBe(cleanUpSpaces(text));
    }
  });

  it('streams " \' " then a word as the whole decode does (the word is not lost)', () => {
    const t = build(llama3());
    const pieces = ['a', " '", ' b', ' c', ' n', "'t", ' .', ' done'];
    const ids = pieces.flatMap((p) => t.encode(p, { addSpecialTokens: false }));
    expect(t.decode(ids)).toBe("a'b cn't. done");
    expect(stream(t, ids).join('')).toBe("a'b cn't. done");
    // Decoding without clean-up streams the text as it is.
    expect(stream(build(llama3({ cleanUp: false })), ids).join('')).toBe("a ' b c n't . done");
    // The same through a plugin's tokenizer entry that returns an HfTokenizer (core guards it).
    expect(stream(new GuardedTokenizer(t, 'some-plugin', 'hf-variant'), ids).join('')).toBe("a'b cn't. done");
  });

  it('holds back only what the next text may rewrite: plain words come out at their own token', () => {
    const t = build(llama3());
    const ids = t.encode('Once upon a time, there was a fox', { addSpecialTokens: false });
    const deltas = stream(t, ids);
    expect(deltas.join('')).toBe('Once upon a time, there was a fox');
    expect(deltas.slice(0, -1).every((d) => d !== '')).toBe(true);
    // A space token waits for the next token, which may be punctuation that takes it away.
    const fox = t.encode('fox', { addSpecialTokens: false });
    const spaced = stream(t, [...fox, t.tokenToId('Ġ')!, t.tokenToId(',')!]);
    expect(spaced.slice(fox.length)).toEqual(['', ',', '']);
    expect(spaced.join('')).toBe('fox,');
  });

  it('streams a long run of spaces as it comes, holding back only its last two', () => {
    // Each piece used to walk the whole run back (quadratic: 20,000 spaces took seconds) and
    // nothing of the run came out before the next word.
    expect(settledLength(`x${' '.repeat(10_000)}`)).toBe(10_001 - 2);
    expect(settledLength(`x '${' '.repeat(50)}`)).toBe(3 + 50 - 2);
    const t = build(llama3());
    const space = t.tokenToId('Ġ')!;
    const ids = [...t.encode('fox', { addSpecialTokens: false }), ...new Array<number>(2_000).fill(space)];
    const deltas = stream(t, ids);
    expect(deltas.slice(0, -1).join('')).toBe(`fox${' '.repeat(2_000 - 2)}`);
    expect(deltas.at(-1)).toBe('  ');
    // What the run ends in still rewrites it as the whole decode does.
    const tail = [...t.encode(" ' m", { addSpecialTokens: false }), ...t.encode(' .', { addSpecialTokens: false })];
    expect(stream(t, [...ids, ...tail]).join('')).toBe(t.decode([...ids, ...tail]));
  });

  it('cleans up the settled part of space-heavy text as the whole text is cleaned up, in pieces of any length', () => {
    const random = seededRandom(43);
    const alphabet = [' ', ' ', ' ', ' ', ' ', "'", "'", 'n', 't', 'm', 's', 'v', 'e', 'r', '.', ',', 'x'];
    for (let trial = 0; trial < 20_000; trial++) {
      const text = Array.from({ length: 1 + Math.floor(random() * 30) }, () => alphabet[Math.floor(random() * alphabet.length)]!).join('');
      let pending = '';
      let out = '';
      for (let i = 0; i < text.length; ) {
        pending += text.slice(i, (i += 1 + Math.floor(random() * 6)));
        const n = settledLength(pending);
        out += cleanUpSpaces(pending.slice(0, n));
        pending = pending.slice(n);
      }
      expect(out + cleanUpSpaces(pending), JSON.stringify(text)).toBe(cleanUpSpaces(text));
    }
  });
});

describe('ids the tokenizer lacks', () => {
  // A model's embedding is often padded past the tokenizer's ids (Qwen2, Phi-3), and sampling can
  // pick those rows; ids between the vocabulary and a later added token have no token either.
  it.each(allFamilies().map((f) => [f.name, f] as const))('%s: decode and stream drop them, with or without an unk token', (_name, f) => {
    for (const unk of [true, false]) {
      const json = structuredClone(f.tokenizerJson) as { model: Record<string, unknown>; added_tokens: unknown[] };
      json.added_tokens.push({ id: 1000, content: '<|after_a_gap|>', special: true, normalized: false });
      if (!unk) json.model['unk_token'] = null;
      const t = new HfTokenizer(json, structuredClone(f.tokenizerConfig));
      expect(t.vocabSize).toBe(1001);
      const hello = t.encode('Hello 猫', { addSpecialTokens: false });
      const ids = [999, ...hello, 990, 1200, ...hello];
      expect(t.decode(ids)).toBe(t.decode([...hello, ...hello]));
      expect(t.decode(ids, { skipSpecialTokens: false })).toBe(t.decode([...hello, ...hello], { skipSpecialTokens: false }));
      expect(t.decode([999])).toBe('');
      expect(stream(t, ids).join('')).toBe(t.decode(ids));
    }
  });
});

describe('family specifics', () => {
  it('Llama 3: BOS from the post-processor Sequence, ignore_merges keeps whole vocabulary words', () => {
    const f = llama3();
    const t = build(f);
    const bos = f.ids['<|begin_of_text|>']!;
    expect(t.encode('Hello')[0]).toBe(bos);
    expect(t.encode('Hello', { addSpecialTokens: false })).not.toContain(bos);
    const word = UNMERGEABLE.replace('Ġ', ' ');
    expect(t.encode(word, { addSpecialTokens: false })).toEqual([t.tokenToId(UNMERGEABLE)]);
    const merged = build(llama3({ ignoreMerges: false })).encode(word, { addSpecialTokens: false });
    expect(merged.length).toBeGreaterThan(1);
    // Case-insensitive contractions ((?i:...) in the Oniguruma regex) split as in Python.
    expect(t.encode("IT'S", { addSpecialTokens: false }).map((id) => t.decode([id]))).toEqual(['IT', "'S"]);
    // Merges as "a b" strings and as pairs give the same ids.
    const strings = build(llama3({ stringMerges: true }));
    for (const text of Object.values(SAMPLES)) expect(strings.encode(text)).toEqual(t.encode(text));
  });

  it('Qwen2: NFC normalizes, no BOS is added, pair and string merges agree, non-special added tokens are kept', () => {
    const f = qwen2();
    const t = build(f);
    expect(t.encode('cafe\u0301')).toEqual(t.encode('café'));
    for (const text of Object.values(SAMPLES)) {
      expect(t.encode(text)).toEqual(t.encode(text, { addSpecialTokens: false }));
      expect(build(qwen2({ stringMerges: true })).encode(text)).toEqual(t.encode(text));
    }
    // <tool_call> is added but not special: decoding keeps it.
    const ids = t.encode('<tool_call>{"a":1}</tool_call><|im_end|>');
    expect(ids[0]).toBe(f.ids['<tool_call>']);
    expect(t.decode(ids)).toBe('<tool_call>{"a":1}</tool_call>');
  });

  it('Llama 2 / Mistral: BOS added, byte fallback for characters outside the vocabulary', () => {
    for (const f of [llama2({ layout: 'legacy' }), llama2({ layout: 'metaspace', mistral: true })]) {
      const t = build(f);
      expect(t.encode('Hello')[0]).toBe(1);
      const fox = t.encode('🦊', { addSpecialTokens: false });
      const bytes = [...new TextEncoder().encode('🦊')].map((b) => f.ids['<0x00>']! + b);
      expect(fox.slice(-4)).toEqual(bytes);
      expect(t.decode(bytes)).toBe('🦊');
      // Only the first text gets the ▁ prefix in the Metaspace layout; the legacy one adds it after </s> too.
      const afterSpecial = t.encode('A</s>B', { addSpecialTokens: false });
      expect(t.decode(afterSpecial, { skipSpecialTokens: false })).toBe(f.name.includes('legacy') ? 'A</s> B' : 'A</s>B');
    }
    // The config's legacy flag does not change the tokenizer.json's layout (as in transformers' fast tokenizer).
    const legacy = llama2({ layout: 'legacy' });
    expect(build(legacy, { legacy: true }).encode('A</s>B')).toEqual(build(legacy, { legacy: false }).encode('A</s>B'));
  });

  it('add_bos_token / add_eos_token decide what an encoding adds, in place of tokenizer.json\'s post-processor (as transformers rebuilds it)', () => {
    for (const f of [llama2(), gemma()]) {
      const bos = f.ids['<s>'] ?? f.ids['<bos>'];
      const eos = f.ids['</s>'] ?? f.ids['<eos>'];
      const bare = build(f).encode('Hello', { addSpecialTokens: false });
      expect(build(f, { add_bos_token: false, add_eos_token: true }).encode('Hello')).toEqual([...bare, eos]);
      expect(build(f, { add_bos_token: true, add_eos_token: true }).encode('Hello')).toEqual([bos, ...bare, eos]);
      expect(build(f, { add_bos_token: false, add_eos_token: false }).encode('Hello')).toEqual(bare);
    }
  });

  it('Gemma: BOS added, no dummy prefix, turn markers special through additional_special_tokens', () => {
    const f = gemma();
    const t = build(f);
    expect(t.encode('Hello')[0]).toBe(f.ids['<bos>']);
    expect(t.decode(t.encode('Hello', { addSpecialTokens: false }).slice(0, 1)).startsWith(' ')).toBe(false);
    const ids = t.encode('<start_of_turn>user\nHi<end_of_turn>\n', { addSpecialTokens: false });
    expect(ids[0]).toBe(f.ids['<start_of_turn>']);
    expect(t.decode(ids)).toBe('user\nHi\n');
    expect(t.decode(ids, { skipSpecialTokens: false })).toBe('<start_of_turn>user\nHi<end_of_turn>\n');
  });

  it('GPT-2: no BOS added; <|endoftext|> is both vocabulary entry and added token', () => {
    const f = gpt2();
    const t = build(f);
    for (const text of Object.values(SAMPLES)) expect(t.encode(text)).toEqual(t.encode(text, { addSpecialTokens: false }));
    expect(t.encode('a<|endoftext|>b', { addSpecialTokens: false })).toContain(f.ids['<|endoftext|>']);
    expect(t.vocabSize).toBe(f.ids['<|endoftext|>']! + 1);
  });
});

describe('chat prompts', () => {
  const messages = [{ role: 'user', content: 'Hi there' }];
  /** The ids a `messages` request starts from, as request setup makes them. */
  const chatIds = (t: Tokenizer, m: readonly { role: string; content: string }[] = messages): number[] =>
    promptIds({ messages: m }, t, t.vocabSize)[0]!;
  const leadingCount = (ids: readonly number[], id: number): number => {
    let n = 0;
    while (ids[n] === id) n++;
    return n;
  };

  it.each(allFamilies().map((f) => [f.name, f] as const))('%s: renders its template, and the prompt starts with one BOS (or none without one)', (_name, f) => {
    const t = build(f);
    const conversation = f.name === 'gemma' || f.name.startsWith('mistral')
      ? [...messages, { role: 'assistant', content: 'Hello! 🦊' }, { role: 'user', content: 'Café?' }]
      : [{ role: 'system', content: 'Be brief.' }, ...messages, { role: 'assistant', content: 'Hello! 🦊' }, { role: 'user', content: 'Café?' }];
    const ids = chatIds(t, conversation);
    const bos = bosOf(f);
    if (bos === undefined) {
      // No BOS in Qwen2 or GPT-2: the prompt is the rendered text's own ids.
      expect(ids).toEqual(t.encode(t.applyChatTemplate(conversation), { addSpecialTokens: false }));
    } else {
      expect(leadingCount(ids, bos)).toBe(1);
    }
    expect(t.decode(ids)).toContain('Café?');
  });

  it('renders templates that test `tools is not none` (transformers passes tools=None when there are none)', () => {
    const t = build(llama3());
    expect(LLAMA3_TEMPLATE).toContain('tools is not none');
    const text = t.applyChatTemplate(messages);
    expect(text.startsWith('<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nToday: ')).toBe(true);
    expect(text.endsWith('<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n')).toBe(true);
    expect(build(qwen2()).applyChatTemplate(messages)).not.toContain('Tools:');
  });

  describe('BOS once, however the template writes it', () => {
    const mistral = llama2({ layout: 'metaspace', mistral: true });
    const withTemplate = (template: string, config: Record<string, unknown> = {}) => build(mistral, { chat_template: template, ...config });
    const without = MISTRAL_TEMPLATE.replace('{{- bos_token }}', '');

    it('written unconditionally through bos_token', () => {
      const t = withTemplate(MISTRAL_TEMPLATE);
      expect(t.chatTemplateAddsBos).toBe(true);
      expect(leadingCount(chatIds(t), 1)).toBe(1);
    });

    it('written inside a condition that holds (Llama 3: first message only)', () => {
      const f = llama3();
      const t = build(f);
      expect(leadingCount(chatIds(t), f.ids['<|begin_of_text|>']!)).toBe(1);
    });

    it('never written: the tokenizer adds it', () => {
      const t = withTemplate(without);
      expect(t.chatTemplateAddsBos).toBe(false);
      expect(leadingCount(chatIds(t), 1)).toBe(1);
    });

    it('mentioned only in a Jinja comment: the tokenizer adds it', () => {
      const t = withTemplate(`{#- bos_token comes from the tokenizer -#}${without}`);
      expect(t.chatTemplateAddsBos).toBe(false);
      expect(leadingCount(chatIds(t), 1)).toBe(1);
    });

    it('mentioned only in a condition that does not hold: the tokenizer adds it', () => {
      const t = withTemplate(`{%- if add_bos is defined and add_bos %}{{- bos_token }}{%- endif %}${without}`);
      expect(t.chatTemplateAddsBos).toBe(false);
      expect(leadingCount(chatIds(t), 1)).toBe(1);
    });

    it('written as literal text instead of bos_token', () => {
      const t = withTemplate(MISTRAL_TEMPLATE.replace('{{- bos_token }}', '{{- "<s>" }}'));
      expect(t.chatTemplateAddsBos).toBe(true);
      expect(leadingCount(chatIds(t), 1)).toBe(1);
    });

    it('written through bos_token when tokenizer_config.json lacks bos_token (older repos keep it in special_tokens_map.json)', () => {
      const f = structuredClone(mistral);
      delete f.tokenizerConfig['bos_token'];
      const t = build(f);
      expect(leadingCount(chatIds(t), 1)).toBe(1);
      // Llama 2's template writes it before every instruction: each turn gets its BOS.
      const l2 = structuredClone(llama2());
      delete l2.tokenizerConfig['bos_token'];
      const turns = [...messages, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'More' }];
      expect(chatIds(build(l2), turns).filter((id) => id === 1)).toHaveLength(2);
    });

    it('written for some conversations only: each prompt gets exactly one (decided per prompt, not per template)', () => {
      // The load-time probe (a lone user message) sees no BOS; longer conversations get one from the template.
      const t = withTemplate(`{%- if messages | length > 1 %}{{- bos_token }}{%- endif %}${without}`);
      expect(t.chatTemplateAddsBos).toBe(false);
      const one = [{ role: 'user', content: 'Hi' }];
      const three = [...one, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'More' }];
      expect(leadingCount(chatIds(t, one), 1)).toBe(1);
      expect(leadingCount(chatIds(t, three), 1)).toBe(1);
    });

    it('a tokenizer that adds BOS and EOS to plain text: the chat prompt gets the BOS, never the EOS', () => {
      const f = structuredClone(mistral);
      const eos = 2;
      (f.tokenizerJson as Record<string, unknown>)['post_processor'] = {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] }, '</s>': { id: '</s>', ids: [eos], tokens: ['</s>'] } },
      };
      // Without the config's flags tokenizer.json's post-processor decides (as in a PreTrainedTokenizerFast
      // file); with add_eos_token the config adds the EOS to plain text.
      delete f.tokenizerConfig['add_bos_token'];
      delete f.tokenizerConfig['add_eos_token'];
      for (const t of [build(f, { chat_template: without }), build(mistral, { chat_template: without, add_eos_token: true })]) {
        expect(t.encode('Hello').at(-1)).toBe(eos);
        const ids = chatIds(t);
        expect(leadingCount(ids, 1)).toBe(1);
        expect(ids).not.toContain(eos);
      }
    });

    it('a template that refuses the probe conversation (a lone user message) is judged by its source', () => {
      const refusing = `{%- if messages | length < 2 %}{{- raise_exception("Start with a system message.") }}{%- endif %}`;
      expect(withTemplate(refusing + MISTRAL_TEMPLATE).chatTemplateAddsBos).toBe(true);
      expect(withTemplate(refusing + without).chatTemplateAddsBos).toBe(false);
      const t = withTemplate(refusing + MISTRAL_TEMPLATE);
      expect(leadingCount(chatIds(t, [...messages, ...messages]), 1)).toBe(1);
    });

    it('no BOS in the tokenizer (Qwen2, GPT-2): none added, even by a template that writes bos_token', () => {
      const t = build(qwen2(), { chat_template: `{{ bos_token }}${QWEN2_TEMPLATE}` });
      expect(chatIds(t)).toEqual(t.encode(t.applyChatTemplate(messages), { addSpecialTokens: false }));
      const g = build(gpt2(), { chat_template: `{{ bos_token }}{{ messages[0].content }}` });
      expect(chatIds(g)[0]).toBe(g.tokenToId('<|endoftext|>'));
      expect(chatIds(g)[1]).not.toBe(g.tokenToId('<|endoftext|>'));
    });
  });
});

describe('EOS, BOS and pad ids', () => {
  const tinyConfig = JSON.parse(readFileSync(join(fixture('tiny'), 'config.json'), 'utf8')) as Record<string, unknown>;
  const modelConfig = (ids: Record<string, unknown>) => parseModelConfig({ ...tinyConfig, ...ids }, 'config.json');

  it.each(allFamilies().map((f) => [f.name, f] as const))('%s: generation_config.json gives the EOS ids, one or a list', (_name, f) => {
    const g = parseGenerationConfig(f.generationConfig, modelConfig(f.configIds));
    const listed = f.generationConfig!['eos_token_id'];
    expect(g.eosTokenIds).toEqual(Array.isArray(listed) ? listed : [listed]);
    expect(g.bosTokenId).toBe(f.generationConfig!['bos_token_id']);
  });

  it('falls back to config.json, one id or a list, when generation_config.json gives none', () => {
    const f = llama3();
    const list = [f.ids['<|end_of_text|>'], f.ids['<|eom_id|>'], f.ids['<|eot_id|>']];
    expect(parseGenerationConfig(undefined, modelConfig(f.configIds)).eosTokenIds).toEqual([f.ids['<|end_of_text|>']]);
    expect(parseGenerationConfig(undefined, modelConfig({ ...f.configIds, eos_token_id: list })).eosTokenIds).toEqual(list);
    expect(parseGenerationConfig({ eos_token_id: null }, modelConfig({ ...f.configIds, eos_token_id: list })).eosTokenIds).toEqual(list);
    expect(parseGenerationConfig({ eos_token_id: [] }, modelConfig({ ...f.configIds, eos_token_id: list })).eosTokenIds).toEqual(list);
    // Llama 2 writes pad_token_id -1 in config.json for "none": the generation config's pad, else the first EOS, pads.
    const l2 = llama2();
    expect(parseGenerationConfig(l2.generationConfig, modelConfig(l2.configIds)).padTokenId).toBe(0);
    expect(parseGenerationConfig({}, modelConfig(l2.configIds)).padTokenId).toBe(2);
    // Qwen2 pads with <|endoftext|>, which is also one of its EOS ids.
    const q = qwen2();
    expect(parseGenerationConfig(q.generationConfig, modelConfig(q.configIds)).padTokenId).toBe(q.ids['<|endoftext|>']);
  });
});

describe('end to end on the tiny ONNX model', () => {
  const weft = runtime();
  const dirs: string[] = [];
  afterAll(async () => {
    await weft.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** The tiny fixture's folder with `f`'s tokenizer files (its ids are below the model's 1024). */
  function folderWith(f: FamilyFiles): string {
    const dir = tinyFolderWith(f);
    dirs.push(dir);
    return dir;
  }

  it.each([llama3(), qwen2(), llama2(), gemma({ eosList: true })].map((f) => [f.name, f] as const))(
    '%s: a messages request renders the template, starts with one BOS, and streams the decode of its ids',
    async (_name, f) => {
      const model = await weft.load(folderWith(f));
      expect(model.tokenizer.vocabSize).toBe(largestId(f) + 1);
      const messages = [{ role: 'user', content: 'Tell me about 🦊 and 猫, please.' }];
      for (const seed of [1, 2, 3]) {
        const events = await collect(model.generate({ messages, maxTokens: 24, temperature: 1, seed, ignoreEos: true }));
        const start = events.find((e) => e.type === 'start')!;
        const prompt = start.promptIds[0]!;
        expect(prompt).toEqual(promptIds({ messages }, model.tokenizer, 1024)[0]);
        const bos = bosOf(f);
        if (bos !== undefined) expect([prompt[0], prompt[1]]).toEqual([bos, expect.not.toSatisfy((id: number) => id === bos)]);
        const row = done(events).rows[0]!;
        expect(row.ids).toHaveLength(24);
        const text = events.flatMap((e) => (e.type === 'token' || e.type === 'flush' ? [e.text] : [])).join('');
        expect(text).toBe(row.text);
        expect(row.text).toBe(model.tokenizer.decode(row.ids));
      }
      expect(model.generationConfig.eosTokenIds).toEqual([f.generationConfig!['eos_token_id']].flat());
      await model.dispose();
    },
  );

  it('reads the chat template from chat_template.jinja, where newer transformers versions save it (it wins over the config’s, as there)', async () => {
    const f = qwen2();
    const dir = folderWith(f);
    const { chat_template: template } = f.tokenizerConfig;
    // The config's own template says something else: the file's is the one used.
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...f.tokenizerConfig, chat_template: 'stale {{ messages[0].content }}' }));
    writeFileSync(join(dir, 'chat_template.jinja'), String(template));
    const messages = [{ role: 'user', content: 'Hi there' }];
    const model = await weft.load(dir);
    expect(model.tokenizer.applyChatTemplate(messages)).toBe(build(f).applyChatTemplate(messages));
    const events = await collect(model.generate({ messages, maxTokens: 4 }));
    expect(events.find((e) => e.type === 'start')!.promptIds[0]).toEqual(build(f).encode(build(f).applyChatTemplate(messages)));
    await model.dispose();
    // Over HTTP too; and a folder without any template still loads from a server that answers
    // missing files with a page (the optional file is then taken as absent).
    const server = await serveFolder(dir);
    const spa = await serveFolder(folderWith(gpt2()), {
      missing: (req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(req.method === 'HEAD' ? undefined : '<!doctype html><html></html>');
      },
    });
    try {
      const remote = await weft.load(server.url);
      expect(remote.tokenizer.applyChatTemplate(messages)).toBe(build(f).applyChatTemplate(messages));
      expect(server.requested).toContain('GET /chat_template.jinja');
      await remote.dispose();
      const plain = await weft.load(spa.url);
      expect(() => plain.tokenizer.applyChatTemplate(messages)).toThrow(/no chat_template/);
      await plain.dispose();
    } finally {
      server.close();
      spa.close();
    }
  });

  it('fails the load when chat_template.jinja cannot be read (not when it is missing or does not parse), and names the file in template errors', async () => {
    const dir = folderWith(gpt2());
    const broken = await serveFolder(dir, {
      missing: (req, res) => {
        res.writeHead(req.url?.endsWith('/chat_template.jinja') ? 500 : 404);
        res.end();
      },
    });
    try {
      await expect(weft.load(broken.url)).rejects.toThrow(`Cannot fetch ${broken.url}chat_template.jinja: HTTP 500`);
    } finally {
      broken.close();
    }
    writeFileSync(join(dir, 'chat_template.jinja'), '{{ raise_exception("no chats here") }}');
    const model = await weft.load(dir);
    expect(() => model.tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi' }])).toThrow(
      "The model's chat_template (chat_template.jinja) refused these messages: no chats here. Change the messages to what it accepts.",
    );
    await model.dispose();
    // A template the interpreter cannot parse refuses chats, not the model: prompts still run.
    writeFileSync(join(dir, 'chat_template.jinja'), '{% for %}');
    const unparsed = await weft.load(dir);
    try {
      const refusal = (() => {
        try {
          unparsed.tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi' }]);
        } catch (error) {
          return error;
        }
      })();
      expect(refusal).toBeInstanceOf(InvalidOptionsError);
      // The cause names the file at fault: the model's, not the request's (weft info and chat tell them apart by it).
      expect(refusal).toMatchObject({ option: 'messages', cause: expect.any(ModelLoadError) });
      expect((refusal as InvalidOptionsError).cause).toMatchObject({ path: join(dir, 'chat_template.jinja') });
      expect((refusal as Error).message).toMatch(new RegExp(`^The chat template ${join(dir, 'chat_template.jinja').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not parse: .+ Fix the template, or pass \`prompt\` instead of \`messages\`\.$`));
      await expect(unparsed.text({ messages: [{ role: 'user', content: 'Hi' }], maxTokens: 2 })).rejects.toThrow(/does not parse/);
      await expect(unparsed.text({ prompt: 'Once upon a time', maxTokens: 2, ignoreEos: true })).resolves.toEqual(expect.any(String));
    } finally {
      await unparsed.dispose();
    }
  });
});
