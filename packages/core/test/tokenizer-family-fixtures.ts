/**
 * Small tokenizers in the Hugging Face layout of popular open model families, built in memory for
 * tests: a `tokenizer.json`, a `tokenizer_config.json` and (where the family has them) the
 * `generation_config.json` / `config.json` token ids. Each follows its family's structure (model
 * type, normalizer, pre-tokenizer, post-processor, decoder, added tokens, special-token fields),
 * with a vocabulary trained by a few hundred BPE merges on a small multilingual corpus, so that
 * some tokens hold only part of a multi-byte character. The chat templates are written here (not
 * copied from model repositories); they use the same Jinja features as their family's.
 *
 * Every id stays below 1024, the vocabulary of the ONNX fixture in `fixtures/tiny`.
 */

/** A family's files: what a model folder holds, parsed. */
export interface FamilyFiles {
  readonly name: string;
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
  readonly generationConfig?: Record<string, unknown>;
  /** The token-id fields of `config.json` (merged into a model's config by the end-to-end test). */
  readonly configIds: Record<string, unknown>;
  /** Ids of the family's special tokens by content. */
  readonly ids: Readonly<Record<string, number>>;
}

/** Text the vocabularies are trained on: English with contractions and punctuation, accents, CJK, code. */
const CORPUS = `
Once upon a time, there was a little fox named Mia. She didn't like the rain, but she loved the sun.
"Where are you going?" asked the owl. "I'm going to the river," said the fox. They're friends, aren't they?
The café near the station serves crème brûlée; it's naïve to think the résumé of the señor is über-long.
Ångström, Zoë, façade, déjà vu, piñata, Straße, smörgåsbord, jalapeño, fiancée, coöperate.
你好，世界！我们的猫很可爱。今天天气很好，我们去公园吧。这是一个测试。中文的句子和标点符号。
日本語のテキストです。こんにちは、世界。ありがとうございます。カタカナとひらがな。
Привет, мир! Как дела? Всё хорошо. Это тест.
function add(a, b) { return a + b; }  // adds two numbers
const xs = [1, 2, 3].map((x) => x * 2);
if (x >= 10 && y != 0) { print("ok") } else { print('no') }
The quick brown fox jumps over the lazy dog. The dog didn't move. We'll see, won't we? You've been there.
I'd say it's fine. He's here. She'll come. They've gone. We're ready. I'm sure. You'd know.
Numbers: 12345, 3.14159, 2024-05-01, 100%, $42.00, #1, @home, a_b, x^2.
Once upon a time, there was a little fox named Mia. She didn't like the rain, but she loved the sun.
The café near the station serves crème brûlée; it's naïve to think the résumé of the señor is über-long.
你好，世界！我们的猫很可爱。今天天气很好，我们去公园吧。
日本語のテキストです。こんにちは、世界。
`;

/** Text for tests: each kind of character a tokenizer must carry through unchanged. */
export const SAMPLES = {
  ascii: 'Once upon a time, there was a little fox. "Really?" she asked; it isn\'t, they\'re (not) 42!',
  accents: 'Crème brûlée, naïve café, Ångström, Zoë, señor, Straße.',
  cjk: '你好，世界！我们的猫很可爱。日本語のテキスト、カタカナ。',
  emoji: 'Mia saw 🦊 and 🙂 — ✨ 👩‍💻 🇫🇷!',
  rare: 'Ωμέγα ℵ ∑ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃',
  code: 'function f(x) {\n  return x * 2;  // twice\n}\n',
  spaces: '  two leading spaces,   three inside, a tab\tand a trailing space ',
} as const;

// ---------------------------------------------------------------------------------------------
// BPE training
// ---------------------------------------------------------------------------------------------

/**
 * Greedy BPE: `count` merges of the most frequent adjacent pair (ties broken by the pair's text,
 * so runs are deterministic) over `words` (symbol lists with frequencies).
 */
function trainMerges(words: Map<string, { symbols: string[]; count: number }>, count: number, keep: (merged: string) => boolean = () => true): [string, string][] {
  const merges: [string, string][] = [];
  const list = [...words.values()];
  for (let m = 0; m < count; m++) {
    const pairs = new Map<string, number>();
    for (const w of list) {
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        const key = `${w.symbols[i]}\u0000${w.symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + w.count);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, n] of pairs) {
      const [a, b] = key.split('\u0000') as [string, string];
      if (!keep(a + b)) continue;
      if (n > bestCount || (n === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = n;
      }
    }
    if (best === undefined || bestCount < 2) break;
    const [a, b] = best.split('\u0000') as [string, string];
    merges.push([a, b]);
    for (const w of list) {
      const out: string[] = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === a && w.symbols[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(w.symbols[i]!);
      }
      w.symbols = out;
    }
  }
  return merges;
}

function addWord(words: Map<string, { symbols: string[]; count: number }>, symbols: string[]): void {
  const key = symbols.join('\u0000');
  const known = words.get(key);
  if (known) known.count++;
  else words.set(key, { symbols, count: 1 });
}

// ---------------------------------------------------------------------------------------------
// Byte-level BPE (GPT-2, Llama 3, Qwen2)
// ---------------------------------------------------------------------------------------------

/** GPT-2's byte → printable character table, in its order (printable bytes first). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable(b) ? b : 256 + shifted++);
  return table;
})();

/** The 256 byte symbols in GPT-2's vocabulary order ("!" is id 0, "Ġ" for the space byte comes later). */
const BYTE_SYMBOLS: readonly string[] = (() => {
  const printable: number[] = [];
  const rest: number[] = [];
  for (let b = 0; b < 256; b++) ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff) ? printable : rest).push(b);
  return [...printable, ...rest].map((b) => BYTE_TO_CHAR[b]!);
})();

const utf8 = new TextEncoder();
const byteChars = (text: string): string[] => [...utf8.encode(text)].map((b) => BYTE_TO_CHAR[b]!);

/** GPT-2's pre-tokenizer regex (the library's ByteLevel `use_regex`), used here to train on. */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Llama 3's split regex, in the Oniguruma syntax tokenizer.json uses (case-insensitive contractions). */
export const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2's split regex: single digits. */
export const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** A byte-level vocabulary: the 256 byte symbols, then `merges` merged tokens, then `extra` tokens. */
function byteLevelVocab(merges: number, extra: readonly string[] = []): { vocab: Record<string, number>; merges: [string, string][] } {
  const words = new Map<string, { symbols: string[]; count: number }>();
  for (const piece of CORPUS.match(GPT2_SPLIT) ?? []) addWord(words, byteChars(piece));
  // Words that the cleanup test needs as pieces of their own, with a space before them.
  for (const piece of [" '", ' n', " n't", ' .', ' ,', ' !', ' ?', " 's"]) for (let i = 0; i < 3; i++) addWord(words, byteChars(piece));
  const trained = trainMerges(words, merges);
  const vocab: Record<string, number> = {};
  let id = 0;
  for (const s of BYTE_SYMBOLS) vocab[s] = id++;
  for (const [a, b] of trained) if (vocab[a + b] === undefined) vocab[a + b] = id++;
  for (const t of extra) if (vocab[t] === undefined) vocab[t] = id++;
  return { vocab, merges: trained };
}

const added = (id: number, content: string, special = true) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special });

/** `added_tokens_decoder` of a tokenizer_config.json, from tokenizer.json's added tokens. */
function addedTokensDecoder(tokens: readonly ReturnType<typeof added>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { id, ...rest } of tokens) out[String(id)] = rest;
  return out;
}

/** A `TemplateProcessing` post-processor that puts `bos` first (as Llama, Gemma and Mistral do). */
function bosTemplate(bos: string, bosId: number): Record<string, unknown> {
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
}

/** A word that merges never build, kept whole by Llama 3's `ignore_merges`. */
export const UNMERGEABLE = 'ĠWeftling';

// Chat templates, written for these tests. Each uses the Jinja features of its family's.

/**
 * Llama 3 style: headers per message, `bos_token` written only for the first message (inside a
 * condition), a system block with the date from `strftime_now`, and tools checked with `is not none`
 * (transformers always passes `tools`, as None when there are none).
 */
export const LLAMA3_TEMPLATE = [
  '{%- if not date_string is defined %}{%- set date_string = strftime_now("%d %B %Y") %}{%- endif %}',
  '{%- if messages[0]["role"] == "system" %}{%- set system_text = messages[0]["content"] | trim %}{%- set rest = messages[1:] %}',
  '{%- else %}{%- set system_text = "" %}{%- set rest = messages %}{%- endif %}',
  '{%- for message in [{"role": "system", "content": "Today: " + date_string + "\\n" + system_text}] + rest %}',
  '{%- set block = "<|start_header_id|>" + message["role"] + "<|end_header_id|>\\n\\n" + message["content"] | trim + "<|eot_id|>" %}',
  '{%- if loop.index0 == 0 %}{%- set block = bos_token + block %}{%- endif %}',
  '{{- block }}',
  '{%- endfor %}',
  '{%- if tools is not none %}{%- for tool in tools %}{{- tool | tojson }}{%- endfor %}{%- endif %}',
  '{%- if add_generation_prompt %}{{- "<|start_header_id|>assistant<|end_header_id|>\\n\\n" }}{%- endif %}',
].join('');

/** Qwen2 style: ChatML with a default system turn, `loop.first`, tools through `tojson`, no BOS at all. */
export const QWEN2_TEMPLATE = [
  '{%- if tools %}{{- "<|im_start|>system\\nTools:\\n" }}{%- for tool in tools %}{{- tool | tojson }}{%- endfor %}{{- "<|im_end|>\\n" }}{%- endif %}',
  '{%- if messages[0].role != "system" %}{{- "<|im_start|>system\\nYou are a careful assistant.<|im_end|>\\n" }}{%- endif %}',
  '{%- for message in messages %}',
  '{%- if message.role == "system" and not loop.first %}{{- raise_exception("The system message must come first.") }}{%- endif %}',
  '{{- "<|im_start|>" + message.role + "\\n" + message.content + "<|im_end|>\\n" }}',
  '{%- endfor %}',
  '{%- if add_generation_prompt %}{{- "<|im_start|>assistant\\n" }}{%- endif %}',
].join('');

/** Llama 2 style: `bos_token` before every instruction, a folded system prompt, `eos_token` after answers. */
export const LLAMA2_TEMPLATE = [
  '{%- if messages[0]["role"] == "system" %}{%- set sys = "<<SYS>>\\n" + messages[0]["content"] + "\\n<</SYS>>\\n\\n" %}{%- set turns = messages[1:] %}',
  '{%- else %}{%- set sys = "" %}{%- set turns = messages %}{%- endif %}',
  '{%- for message in turns %}',
  '{%- if (message["role"] == "user") != (loop.index0 % 2 == 0) %}{{- raise_exception("Roles must alternate user/assistant/user/...") }}{%- endif %}',
  '{%- if message["role"] == "user" %}{{- bos_token + "[INST] " + (sys if loop.first else "") + message["content"].strip() + " [/INST]" }}',
  '{%- else %}{{- " " + message["content"].strip() + " " + eos_token }}{%- endif %}',
  '{%- endfor %}',
].join('');

/** Mistral style: one `bos_token` at the start, instructions in [INST] blocks. */
export const MISTRAL_TEMPLATE = [
  '{{- bos_token }}',
  '{%- for message in messages %}',
  '{%- if message.role == "user" %}{{- "[INST] " + message.content + " [/INST]" }}',
  '{%- elif message.role == "assistant" %}{{- message.content + eos_token }}',
  '{%- else %}{{- raise_exception("Only user and assistant roles are supported.") }}{%- endif %}',
  '{%- endfor %}',
].join('');

/** The BPE model of a sentencepiece conversion: `<unk>`, byte fallback, unknowns fused. */
function sentencepieceBpe(vocab: Record<string, number>, merges: readonly unknown[]) {
  return { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges };
}

/** Gemma style: `bos_token` first, no system role, `assistant` written as `model`, turns with <start_of_turn>. */
export const GEMMA_TEMPLATE = [
  '{{ bos_token }}',
  '{%- if messages[0]["role"] == "system" %}{{ raise_exception("System role not supported") }}{%- endif %}',
  '{%- for message in messages %}',
  '{%- set role = "model" if message["role"] == "assistant" else message["role"] %}',
  '{{ "<start_of_turn>" + role + "\\n" + (message["content"] | trim) + "<end_of_turn>\\n" }}',
  '{%- endfor %}',
  '{%- if add_generation_prompt %}{{ "<start_of_turn>model\\n" }}{%- endif %}',
].join('');

/** ChatML on a GPT-2 vocabulary, as small fine-tunes of it do: ends each message with `eos_token`. */
export const GPT2_TEMPLATE =
  '{% for message in messages %}{{ message.role + ": " + message.content + eos_token }}{% endfor %}{% if add_generation_prompt %}{{ "assistant: " }}{% endif %}';

export interface Llama3Options {
  /** Write merges as `"a b"` strings (the older format) instead of pairs. */
  readonly stringMerges?: boolean;
  readonly ignoreMerges?: boolean;
  readonly cleanUp?: boolean;
}

/** Llama 3 style: byte-level BPE with `ignore_merges`, <|begin_of_text|> added by the post-processor, clean-up on. */
export function llama3(options: Llama3Options = {}): FamilyFiles {
  // "IT" and "'S" as whole tokens show how the case-insensitive contraction rule splits "IT'S".
  const { vocab, merges } = byteLevelVocab(560, [UNMERGEABLE, 'IT', "'S"]);
  const base = Object.keys(vocab).length;
  const names = [
    '<|begin_of_text|>', '<|end_of_text|>', '<|reserved_special_token_0|>', '<|reserved_special_token_1|>', '<|finetune_right_pad_id|>',
    '<|reserved_special_token_2|>', '<|start_header_id|>', '<|end_header_id|>', '<|eom_id|>', '<|eot_id|>', '<|python_tag|>',
    ...Array.from({ length: 5 }, (_, i) => `<|reserved_special_token_${3 + i}|>`),
  ];
  const tokens = names.map((n, i) => added(base + i, n));
  const ids = Object.fromEntries(tokens.map((t) => [t.content, t.id]));
  const bos = ids['<|begin_of_text|>']!;
  return {
    name: options.cleanUp === false ? 'llama3-no-cleanup' : 'llama3',
    ids,
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: tokens,
      normalizer: null,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: {
        type: 'Sequence',
        processors: [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }, bosTemplate('<|begin_of_text|>', bos)],
      },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: options.ignoreMerges ?? true,
        vocab,
        merges: options.stringMerges ? merges.map(([a, b]) => `${a} ${b}`) : merges,
      },
    },
    tokenizerConfig: {
      added_tokens_decoder: addedTokensDecoder(tokens),
      bos_token: '<|begin_of_text|>',
      chat_template: LLAMA3_TEMPLATE,
      clean_up_tokenization_spaces: options.cleanUp ?? true,
      eos_token: '<|eot_id|>',
      model_input_names: ['input_ids', 'attention_mask'],
      model_max_length: 131072,
      tokenizer_class: 'PreTrainedTokenizerFast',
    },
    generationConfig: { bos_token_id: bos, do_sample: true, eos_token_id: [ids['<|end_of_text|>'], ids['<|eom_id|>'], ids['<|eot_id|>']], temperature: 0.6, top_p: 0.9 },
    configIds: { bos_token_id: bos, eos_token_id: ids['<|end_of_text|>'] },
  };
}

export interface Qwen2Options {
  readonly stringMerges?: boolean;
}

/** Qwen2 style: NFC, Split + ByteLevel pre-tokenizer, no BOS, ChatML added tokens, pad token, clean-up off. */
export function qwen2(options: Qwen2Options = {}): FamilyFiles {
  const { vocab, merges } = byteLevelVocab(600);
  const base = Object.keys(vocab).length;
  const names = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|object_ref_end|>', '<|box_start|>', '<|box_end|>', '<|vision_pad|>'];
  const tokens = names.map((n, i) => added(base + i, n));
  // Qwen2.5 adds tool-call markers as added tokens that are not special: decoding keeps them.
  tokens.push(added(base + names.length, '<tool_call>', false), added(base + names.length + 1, '</tool_call>', false));
  const ids = Object.fromEntries(tokens.map((t) => [t.content, t.id]));
  return {
    name: options.stringMerges ? 'qwen2-string-merges' : 'qwen2',
    ids,
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: tokens,
      normalizer: { type: 'NFC' },
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: QWEN2_SPLIT }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
        ],
      },
      post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: options.stringMerges ? merges.map(([a, b]) => `${a} ${b}`) : merges,
      },
    },
    tokenizerConfig: {
      add_prefix_space: false,
      added_tokens_decoder: addedTokensDecoder(tokens),
      additional_special_tokens: ['<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|object_ref_end|>', '<|box_start|>', '<|box_end|>', '<|vision_pad|>'],
      bos_token: null,
      chat_template: QWEN2_TEMPLATE,
      clean_up_tokenization_spaces: false,
      eos_token: '<|im_end|>',
      errors: 'replace',
      model_max_length: 32768,
      pad_token: '<|endoftext|>',
      split_special_tokens: false,
      tokenizer_class: 'Qwen2Tokenizer',
      unk_token: null,
    },
    generationConfig: { bos_token_id: ids['<|endoftext|>'], pad_token_id: ids['<|endoftext|>'], do_sample: true, eos_token_id: [ids['<|im_end|>'], ids['<|endoftext|>']], repetition_penalty: 1.05, temperature: 0.7, top_p: 0.8, top_k: 20 },
    configIds: { bos_token_id: ids['<|endoftext|>'], eos_token_id: ids['<|im_end|>'] },
  };
}

/** GPT-2 style: byte-level, no BOS added, <|endoftext|> is BOS, EOS and UNK, and the last vocabulary entry. */
export function gpt2(options: { readonly chatTemplate?: boolean; readonly cleanUp?: boolean } = {}): FamilyFiles {
  const { vocab, merges } = byteLevelVocab(600);
  const eos = Object.keys(vocab).length;
  vocab['<|endoftext|>'] = eos;
  const tokens = [added(eos, '<|endoftext|>')];
  return {
    name: 'gpt2',
    ids: { '<|endoftext|>': eos },
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: tokens,
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
    },
    // GPT-2's own file names only the length; later saves add the special tokens.
    tokenizerConfig: {
      add_prefix_space: false,
      bos_token: '<|endoftext|>',
      eos_token: '<|endoftext|>',
      unk_token: '<|endoftext|>',
      model_max_length: 1024,
      ...(options.cleanUp === undefined ? {} : { clean_up_tokenization_spaces: options.cleanUp }),
      ...(options.chatTemplate ? { chat_template: GPT2_TEMPLATE } : {}),
    },
    generationConfig: { bos_token_id: eos, eos_token_id: eos },
    configIds: { bos_token_id: eos, eos_token_id: eos },
  };
}

// ---------------------------------------------------------------------------------------------
// Sentencepiece-style BPE (Llama 2, Mistral, Gemma): ▁ for spaces, <0xXX> byte fallback
// ---------------------------------------------------------------------------------------------

const hexByte = (b: number): string => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/**
 * A sentencepiece BPE vocabulary: `specials` (at their ids), the 256 <0xXX> byte pieces, the
 * characters the corpus uses twice or more (emoji and rare characters fall back to bytes), then
 * `merges` merged pieces. `prefix`: sentencepiece's dummy prefix (Llama, Mistral), absent in Gemma.
 */
function sentencepieceVocab(specials: readonly string[], merges: number, prefix: boolean): { vocab: Record<string, number>; merges: [string, string][]; firstByte: number } {
  const text = CORPUS.replace(/\n/g, ' ');
  const counts = new Map<string, number>();
  for (const c of text.replace(/ /g, '▁')) counts.set(c, (counts.get(c) ?? 0) + 1);
  const alphabet = [...counts].filter(([c, n]) => n >= 2 && !/\p{Extended_Pictographic}/u.test(c)).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([c]) => c);
  if (!alphabet.includes('▁')) alphabet.unshift('▁');
  const words = new Map<string, { symbols: string[]; count: number }>();
  for (const [i, w] of text.split(' ').entries()) {
    if (w === '') continue;
    const piece = prefix || i > 0 ? `▁${w}` : w;
    addWord(words, [...piece].map((c) => (alphabet.includes(c) ? c : '\u0000')));
  }
  // Merged pieces never hold a character the alphabet lacks (those go to bytes).
  const trained = trainMerges(words, merges, (m) => !m.includes('\u0000'));
  const vocab: Record<string, number> = {};
  let id = 0;
  for (const s of specials) vocab[s] = id++;
  const firstByte = id;
  for (let b = 0; b < 256; b++) vocab[hexByte(b)] = id++;
  for (const c of alphabet) if (vocab[c] === undefined) vocab[c] = id++;
  for (const [a, b] of trained) if (vocab[a + b] === undefined) vocab[a + b] = id++;
  return { vocab, merges: trained, firstByte };
}

export interface Llama2Options {
  /**
   * `legacy`: the older conversion (Prepend + Replace normalizer, no pre-tokenizer); `metaspace`:
   * the newer one (Metaspace pre-tokenizer with prepend_scheme "first").
   */
  readonly layout?: 'legacy' | 'metaspace';
  /** The decoder of the Metaspace layout: the same Sequence as the legacy one, or a Metaspace decoder + ByteFallback. */
  readonly metaspaceDecoder?: boolean;
  /** Mistral's chat template (one BOS at the start) instead of Llama 2's (BOS before each [INST]). */
  readonly mistral?: boolean;
  readonly legacyFlag?: boolean;
}

/** Llama 2 / Mistral style: sentencepiece BPE with byte fallback, <s> added by the post-processor. */
export function llama2(options: Llama2Options = {}): FamilyFiles {
  const layout = options.layout ?? 'legacy';
  const { vocab, merges, firstByte } = sentencepieceVocab(['<unk>', '<s>', '</s>'], 520, true);
  const tokens = [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')];
  const sequenceDecoder = {
    type: 'Sequence',
    decoders: [
      { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
      { type: 'ByteFallback' },
      { type: 'Fuse' },
      { type: 'Strip', content: ' ', start: 1, stop: 0 },
    ],
  };
  const metaspaceDecoder = {
    type: 'Sequence',
    decoders: [{ type: 'ByteFallback' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false }],
  };
  return {
    name: `${options.mistral ? 'mistral' : 'llama2'}-${layout}${options.metaspaceDecoder ? '-metaspace-decoder' : ''}`,
    ids: { '<unk>': 0, '<s>': 1, '</s>': 2, '<0x00>': firstByte },
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: tokens,
      normalizer:
        layout === 'legacy'
          ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] }
          : null,
      pre_tokenizer: layout === 'legacy' ? null : { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
      post_processor: bosTemplate('<s>', 1),
      decoder: layout === 'metaspace' && options.metaspaceDecoder ? metaspaceDecoder : sequenceDecoder,
      model: sentencepieceBpe(vocab, merges.map(([a, b]) => `${a} ${b}`)),
    },
    tokenizerConfig: {
      add_bos_token: true,
      add_eos_token: false,
      added_tokens_decoder: addedTokensDecoder(tokens),
      // Older files write the special tokens as AddedToken objects.
      bos_token: { __type: 'AddedToken', content: '<s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
      eos_token: { __type: 'AddedToken', content: '</s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
      unk_token: { __type: 'AddedToken', content: '<unk>', lstrip: false, normalized: false, rstrip: false, single_word: false },
      pad_token: null,
      chat_template: options.mistral ? MISTRAL_TEMPLATE : LLAMA2_TEMPLATE,
      clean_up_tokenization_spaces: false,
      legacy: options.legacyFlag ?? false,
      model_max_length: 1000000000000000019884624838656,
      sp_model_kwargs: {},
      spaces_between_special_tokens: false,
      tokenizer_class: 'LlamaTokenizer',
      use_default_system_prompt: false,
    },
    generationConfig: { bos_token_id: 1, eos_token_id: 2, pad_token_id: 0, do_sample: true, temperature: 0.6, top_p: 0.9, max_length: 4096 },
    configIds: { bos_token_id: 1, eos_token_id: 2, pad_token_id: -1 },
  };
}

/** Gemma style: sentencepiece BPE without a dummy prefix, <bos> added, <start_of_turn>/<end_of_turn> turns. */
export function gemma(options: { readonly eosList?: boolean } = {}): FamilyFiles {
  const specials = ['<pad>', '<eos>', '<bos>', '<unk>', '<mask>', '[@BOS@]', '<start_of_turn>', '<end_of_turn>', '<start_of_image>', '<end_of_image>'];
  const { vocab, merges, firstByte } = sentencepieceVocab(specials, 520, false);
  // <start_of_turn> and <end_of_turn> are not special in tokenizer.json: the config's
  // additional_special_tokens makes them special (decoding skips them).
  const tokens = specials.map((s, i) => added(i, s, !['<start_of_turn>', '<end_of_turn>'].includes(s)));
  const ids = Object.fromEntries(specials.map((s, i) => [s, i]));
  return {
    name: 'gemma',
    ids: { ...ids, '<0x00>': firstByte },
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: tokens.map((t) => ({ ...t, normalized: false })),
      normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      pre_tokenizer: null,
      post_processor: bosTemplate('<bos>', ids['<bos>']!),
      decoder: {
        type: 'Sequence',
        decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }],
      },
      model: sentencepieceBpe(vocab, merges),
    },
    tokenizerConfig: {
      add_bos_token: true,
      add_eos_token: false,
      added_tokens_decoder: addedTokensDecoder(tokens),
      additional_special_tokens: ['<start_of_turn>', '<end_of_turn>'],
      bos_token: '<bos>',
      chat_template: GEMMA_TEMPLATE,
      clean_up_tokenization_spaces: false,
      eos_token: '<eos>',
      model_max_length: 1000000000000000019884624838656,
      pad_token: '<pad>',
      sp_model_kwargs: {},
      spaces_between_special_tokens: false,
      tokenizer_class: 'GemmaTokenizer',
      unk_token: '<unk>',
      use_default_system_prompt: false,
    },
    generationConfig: { bos_token_id: ids['<bos>'], eos_token_id: options.eosList ? [ids['<eos>'], ids['<end_of_turn>']] : ids['<eos>'], pad_token_id: 0, cache_implementation: 'hybrid' },
    configIds: { bos_token_id: ids['<bos>'], eos_token_id: ids['<eos>'], pad_token_id: 0 },
  };
}

/** Every family, in one default layout each, plus the layout variants. */
export function allFamilies(): FamilyFiles[] {
  return [
    llama3(),
    llama3({ cleanUp: false }),
    qwen2(),
    qwen2({ stringMerges: true }),
    llama2({ layout: 'legacy' }),
    llama2({ layout: 'metaspace', mistral: true }),
    llama2({ layout: 'metaspace', metaspaceDecoder: true }),
    gemma({ eosList: true }),
    gpt2({ chatTemplate: true }),
  ];
}
