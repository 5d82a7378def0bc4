/** Seeded mutations of a model folder's JSON files for the load fuzzer (`mutations.ts` picks one). */
import { bytes, flipBytes, raw, Rng, stringify, utf8, WEIRD } from './mutation-kit.js';

export type Json = Record<string, unknown>;

/** Whole-file damage that any JSON file can get. */
export function damageText(rng: Rng, source: Uint8Array): { detail: string; bytes: Uint8Array } {
  const choice = rng.int(8);
  switch (choice) {
    case 0: {
      const at = rng.int(source.length);
      return { detail: `cut at byte ${at} of ${source.length}`, bytes: source.slice(0, at) };
    }
    case 1: {
      const { out, at } = flipBytes(rng, source, 0, source.length, rng.between(1, 6));
      return { detail: `bytes changed at ${at.join(', ')}`, bytes: out };
    }
    case 2:
      return { detail: 'zero-length file', bytes: new Uint8Array(0) };
    case 3: {
      const value = rng.pick(['null', '[]', '5', '"text"', 'true', '{}', '[{}]']);
      return { detail: `the file holds ${value}`, bytes: utf8(value) };
    }
    case 4:
      return { detail: 'a byte-order mark before the JSON', bytes: Uint8Array.from([0xef, 0xbb, 0xbf, ...source]) };
    case 5: {
      const depth = rng.pick([1_000, 100_000, 1_000_000]);
      return { detail: `arrays nested ${depth} deep`, bytes: utf8('['.repeat(depth) + ']'.repeat(depth)) };
    }
    case 6: {
      const depth = rng.pick([1_000, 100_000]);
      return { detail: `an object nested ${depth} deep`, bytes: utf8('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)) };
    }
    default:
      return { detail: 'invalid UTF-8 in a string', bytes: Uint8Array.from([...utf8('{"model_type": "'), 0xff, 0xfe, 0xc0, ...utf8('"}')]) };
  }
}

/** Sets `value` at `path` (creating objects on the way; `undefined` deletes). */
function setPath(json: Json, path: readonly string[], value: unknown): void {
  let at: Record<string, unknown> = json;
  for (const key of path.slice(0, -1)) {
    const next = at[key];
    if (typeof next !== 'object' || next === null) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1]!;
  if (value === undefined) delete at[last];
  else at[last] = value;
}

const describe = (value: unknown): string => {
  if (value === undefined) return 'deleted';
  const t = stringify(value);
  return t.length > 60 ? `${t.slice(0, 57)}…` : t;
};

/** A config.json with 1–3 keys set to a wrong or mismatched value, or deleted. */
export function configPatch(rng: Rng, json: Json): string {
  const coherent: [string, unknown[]][] = [
    ['head_dim', [16, 64, 31, 33, 1, 1e6, undefined]],
    ['num_key_value_heads', [1, 3, 4, 6, 12, undefined]],
    ['num_attention_heads', [3, 4, 12, 5, 1024, undefined]],
    ['num_hidden_layers', [1, 3, 5, 1000, 1e9]],
    ['vocab_size', [1, 2, 512, 1023, 1025, 2048, 2 ** 31, undefined]],
    ['max_position_embeddings', [1, 2, 3, 4, 1e15, undefined]],
    ['hidden_size', [190, 191, 384, 1, undefined]],
    ['rope_scaling', [{ type: 'dynamic', factor: 2 }, { rope_type: 'linear', factor: -1 }, { rope_type: 'linear', factor: 'x' }, 'linear', 5, [], { rope_type: 'yarn' }]],
    ['partial_rotary_factor', [0, 0.5, 2, -1, 'x', 1e308, 0.3]],
    ['rope_theta', [0, -1, 'x', 1e308, raw('1e400')]],
    ['model_type', ['gpt2', 'bert', 'LLAMA', '', 5, undefined, 'phi']],
    ['eos_token_id', [[], [2, 2], 1023, 1024, -1, [2, '2'], 0, 1]],
    ['bos_token_id', [1024, -1, 1e20, '1']],
    ['pad_token_id', [1024, -1, 0.5, [0]]],
    ['n_head', [6, 7, -6]],
    ['n_embd', [192, 7]],
    ['multi_query_group_num', [2, 5, 0]],
  ];
  const keys = Object.keys(json).concat(['n_layer', 'n_positions', 'seq_length', 'sliding_window']);
  const changes: string[] = [];
  for (let n = rng.between(1, 3); n > 0; n--) {
    let key: string;
    let value: unknown;
    if (rng.next() < 0.55) {
      const [k, values] = rng.pick(coherent);
      key = k;
      value = rng.pick(values);
    } else {
      key = rng.pick(keys);
      value = rng.next() < 0.15 ? undefined : rng.pick(WEIRD);
    }
    setPath(json, [key], value);
    changes.push(`${key}: ${describe(value)}`);
  }
  return changes.join('; ');
}

export function generationConfigPatch(rng: Rng, json: Json): string {
  const pools: [string, unknown[]][] = [
    ['eos_token_id', [[], [2, 2], [1023], [1024], [-1], [2, '2'], Array(10_000).fill(2), Array.from({ length: 1024 }, (_, i) => i), [0], [1], 0, 1, 1023, 1e20, [[2]], { id: 2 }]],
    ['bos_token_id', [1024, -5, '1', 1.5]],
    ['pad_token_id', [1024, -5, 'x', 1e9]],
    ['max_length', [0, -1, 1, 1e20, 'x']],
    ['max_new_tokens', [0, -1, 1e20, 'x']],
    ['do_sample', [true, 'yes', 1, null]],
    ['temperature', [0, -1, 1e-30, 1e308, 'hot', raw('1e400')]],
    ['top_k', [0, -1, 1e20, 0.5, null, 1]],
    ['top_p', [0, -0.1, 1.5, 1e-30, 'x']],
    ['min_p', [0, 1, 2, -1]],
    ['repetition_penalty', [0, -1, 1e-30, 1e308]],
    ['num_beams', [4, 0]],
  ];
  const changes: string[] = [];
  for (let n = rng.between(1, 3); n > 0; n--) {
    const [key, values] = rng.pick(pools);
    const value = rng.next() < 0.2 ? rng.pick(WEIRD) : rng.pick(values);
    setPath(json, [key], value);
    if (key !== 'do_sample' && rng.next() < 0.5) setPath(json, ['do_sample'], true);
    changes.push(`${key}: ${describe(value)}`);
  }
  return changes.join('; ');
}

export function tokenizerPatch(rng: Rng, json: Json): string {
  const model = json['model'] as Json;
  const vocab = model['vocab'] as Record<string, number>;
  const tokens = Object.keys(vocab);
  const component = (): unknown =>
    rng.pick([
      { type: 'Nope' },
      5,
      [],
      {},
      null,
      { type: 'Sequence', pretokenizers: 'x' },
      { type: 'Sequence', normalizers: [{ type: 'Sequence', normalizers: 5 }] },
      { type: 'Replace', pattern: { Regex: '(' }, content: '' },
      { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false },
      { type: 'Split', pattern: 5, behavior: 'Nope' },
      { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|nope|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: {} },
      { type: 'TemplateProcessing', single: 'x' },
      { type: 'ByteLevel', add_prefix_space: 'yes' },
      { type: 'Metaspace', replacement: '', prepend_scheme: 'nope' },
    ]);
  const patches: [string, () => unknown][] = [
    ['model.type', () => rng.pick(['Unknown', 'Unigram', 'WordPiece', 'WordLevel', 5, null])],
    ['model.vocab', () => rng.pick([[], {}, null, 'x', [['a', 1]], { a: 1e9 }, { a: -1 }, { a: 0.5 }, { a: '3' }, { a: 0, b: 0 }])],
    ['model.merges', () => rng.pick([[], null, 'a b', [[1, 2]], ['a'], ['a b c'], [5], ['zz qq'], [['Ġ', 't', 'x']], {}])],
    ['model.unk_token', () => rng.pick(['<|nope|>', 5, ''])],
    ['model.byte_fallback', () => rng.pick(['yes', 5, true])],
    ['model.dropout', () => rng.pick([5, -1, 'x', 1, 0.5])],
    ['model.continuing_subword_prefix', () => rng.pick([5, '', '##'])],
    ['model.end_of_word_suffix', () => rng.pick([5, '</w>'])],
    ['model.ignore_merges', () => rng.pick(['x', true])],
    ['model', () => rng.pick([undefined, null, 5, [], { type: 'BPE' }])],
    [`model.vocab.${JSON.stringify(rng.pick(tokens))}`, () => rng.pick([1e9, -5, 1.5, '3', 1024, 2 ** 31, null, 0, 2 ** 53 + 1])],
    ['added_tokens', () => rng.pick([null, {}, [], [{ id: 1e9, content: 'x' }], [{ id: 3, content: 5 }], [{ id: -1, content: 'x' }], [{ id: 5000, content: '<|far|>', special: true }], [{ id: 1, content: '' }], [{ id: 2, content: '<|bos|>' }], [5], [{ id: 7 }]])],
    ['normalizer', component],
    ['pre_tokenizer', component],
    ['decoder', component],
    ['post_processor', component],
    ['truncation', () => rng.pick([{ max_length: -1 }, { max_length: 0, strategy: 'LongestFirst', stride: 0, direction: 'Right' }, 5, { max_length: 1e20 }])],
    ['padding', () => rng.pick([{ strategy: 'BatchLongest', pad_id: 1e9 }, 5, { strategy: { Fixed: 1e9 }, pad_id: 0, pad_type_id: 0, pad_token: '<|pad|>', direction: 'Left' }])],
    ['version', () => rng.pick(['2.0', 5, null])],
  ];
  const changes: string[] = [];
  for (let n = rng.between(1, 2); n > 0; n--) {
    const [path, value] = rng.pick(patches);
    const v = value();
    setPath(json, path.startsWith('model.vocab.') ? ['model', 'vocab', JSON.parse(path.slice('model.vocab.'.length)) as string] : path.split('.'), v);
    changes.push(`${path}: ${describe(v)}`);
  }
  return changes.join('; ');
}

export const TEMPLATES: readonly string[] = [
  '{% for %}',
  '{{ raise_exception("fuzz") }}',
  '{% for i in range(100000000) %}x{% endfor %}',
  '{% for m in messages %}{{ m.content * 100000000 }}{% endfor %}',
  '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}',
  '',
  '{{ messages }}',
  '{{ bos_token }}{% for m in messages %}{{ m["role"] | upper }}{% endfor %}',
  '{{ x.y.z() }}',
  '{% set s = "ab" %}{% for i in range(40) %}{% set s = s + s %}{% endfor %}{{ s }}',
  '{{ "\u0000\uffff\ud800" }}',
  '{%- if true -%}{{ messages[99].content }}{%- endif -%}',
];

export function tokenizerConfigPatch(rng: Rng, json: Json): string {
  const special = (): unknown => rng.pick([5, { content: '<|bos|>' }, { content: 5 }, '<|nope|>', '', null, [], { content: '<|eos|>', lstrip: 'x' }]);
  const patches: [string, () => unknown][] = [
    ['chat_template', () => rng.pick<unknown>([5, [], [{ name: 'default', template: 5 }], [{ name: 'x', template: '{{ 1 }}' }], { default: 'x' }, ...TEMPLATES])],
    ['add_bos_token', () => rng.pick(['yes', 1, null, true, false])],
    ['add_eos_token', () => rng.pick([true, 'no', 0])],
    ['bos_token', special],
    ['eos_token', special],
    ['pad_token', special],
    ['unk_token', special],
    ['model_max_length', () => rng.pick([-1, 0, 1, 1e30, 'x'])],
    ['clean_up_tokenization_spaces', () => rng.pick(['yes', 5, true])],
    ['tokenizer_class', () => rng.pick([5, 'LlamaTokenizer', 'GPT2Tokenizer', null])],
    ['added_tokens_decoder', () => rng.pick([5, { '1': { content: 5 } }, { x: {} }, { '5000': { content: '<|far|>', special: true } }])],
  ];
  const changes: string[] = [];
  for (let n = rng.between(1, 2); n > 0; n--) {
    const [key, value] = rng.pick(patches);
    const v = value();
    setPath(json, [key], v);
    changes.push(`${key}: ${describe(v)}`);
  }
  return changes.join('; ');
}
