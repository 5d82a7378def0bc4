import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelLoadError, type InferenceSession, type ModelConfig, type ValueInfo } from '../src/index.js';
import { readKvLayout } from '../src/model/kv-layout.js';
import { collect, done, fixture, runtime } from './helpers.js';

let scratch: string;
let count = 0;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'weft-input-checks-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A copy of the tiny model whose `file` holds what `edit` makes of its parsed JSON; `dropped` files are removed. */
async function withJson(file: string, edit: (json: Record<string, unknown>) => unknown, dropped: readonly string[] = []): Promise<string> {
  const dir = join(scratch, `m${count++}`);
  await cp(fixture('tiny'), dir, { recursive: true });
  const path = join(dir, file);
  await writeFile(path, JSON.stringify(edit(JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>)));
  for (const name of dropped) await rm(join(dir, name));
  return dir;
}

describe('model folders with malformed inputs fail at load', () => {
  const weft = runtime();
  afterAll(() => weft.dispose());

  /** Loads `dir` and expects a ModelLoadError about `file` whose message matches `message`. */
  async function rejects(dir: string, file: string, message: RegExp): Promise<void> {
    const error = await weft.load(dir).catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect((error as ModelLoadError).path).toBe(join(dir, file));
  }

  // Without generation_config.json these were dropped: generation then never stopped.
  it.each([
    ['"2"', '2', /config\.json: eos_token_id must be a token id \(an integer >= 0\) or a list of them \(got "2"\); fix or remove it\.$/],
    ['[[2]]', [[2]], /config\.json: eos_token_id must be a token id \(an integer >= 0\) or a list of them \(got an array in the list\)/],
    ['-2', -2, /config\.json: eos_token_id must be a token id \(an integer >= 0\) or a list of them \(got -2\)/],
    ['5000 (used: no generation_config.json)', 5000, /config\.json: eos_token_id 5000 is not in the vocabulary of 1024 tokens/],
  ])('rejects a config.json eos_token_id of %s', async (_, value, message) => {
    const dir = await withJson('config.json', (c) => ({ ...c, eos_token_id: value }), ['generation_config.json']);
    await rejects(dir, 'config.json', message);
  });

  it('reads a negative pad_token_id or bos_token_id as none, as older Llama configs mean it', async () => {
    const dir = await withJson('config.json', (c) => ({ ...c, pad_token_id: -1, bos_token_id: -1 }), ['generation_config.json']);
    const model = await weft.load(dir);
    // No pad id of its own: the first EOS id pads, and no BOS id is known.
    expect(model.generationConfig.padTokenId).toBe(model.generationConfig.eosTokenIds[0]);
    expect(model.generationConfig.padTokenIdFallback).toBe(true);
    expect(model.generationConfig.bosTokenId).toBeUndefined();
    await model.dispose();
  });

  it('loads a config.json whose stale ids generation_config.json overrides (GPT-2\'s 50256 in a small vocabulary)', async () => {
    const dir = await withJson('config.json', (c) => ({ ...c, bos_token_id: 50256, eos_token_id: 50256, pad_token_id: 50256 }));
    await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 }));
    const model = await weft.load(dir);
    expect(model.generationConfig).toMatchObject({ bosTokenId: 1, eosTokenIds: [2], padTokenId: 0, padTokenIdFallback: false });
    await model.dispose();
  });

  it('pads with the first EOS id when config.json\'s pad_token_id is outside the vocabulary and nothing overrides it', async () => {
    const dir = await withJson('config.json', (c) => ({ ...c, pad_token_id: 50256 }), ['generation_config.json']);
    const model = await weft.load(dir);
    expect(model.generationConfig.padTokenId).toBe(model.generationConfig.eosTokenIds[0]);
    // A padded batch runs: the pad id is fed to the graph.
    const ids = done(await collect(model.generate({ prompt: ['Once upon a time, there was', 'Tom'], maxTokens: 3, ignoreEos: true }))).rows.map((r) => r.ids.length);
    expect(ids).toEqual([3, 3]);
    await model.dispose();
  });

  it.each([1024, 5000])('rejects a config.json bos_token_id of %i, outside the vocabulary, when it is the one used', async (id) => {
    const dir = await withJson('config.json', (c) => ({ ...c, bos_token_id: id }), ['generation_config.json']);
    await rejects(dir, 'config.json', new RegExp(`config\\.json: bos_token_id ${id} is not in the vocabulary of 1024 tokens \\(bos_token_id must be a token id in \\[0, 1024\\)\\)`));
  });

  it.each([
    ['a list', [1, 2], 'an array'],
    ['a number', 42, '42'],
    ['a string', 'x', '"x"'],
    ['null', null, 'null'],
  ])('rejects a tokenizer_config.json holding %s', async (_, value, shown) => {
    const dir = await withJson('tokenizer_config.json', () => value);
    await rejects(dir, 'tokenizer_config.json', new RegExp(`/tokenizer_config\\.json must hold a JSON object \\(got ${shown.replace(/[[\]]/g, '\\$&')}\\)\\.$`));
  });

  it.each([
    ['a number', 5],
    ['a list of strings', ['{{ messages }}']],
    ['a named template without its template', [{ name: 'default' }]],
  ])('rejects a chat_template that is %s', async (_, value) => {
    const dir = await withJson('tokenizer_config.json', (c) => ({ ...c, chat_template: value }));
    await rejects(dir, 'tokenizer_config.json', /tokenizer_config\.json: chat_template must be a string or a list of \{ name, template \} objects with string fields/);
  });

  it.each([
    ['added_tokens null', (t: Record<string, unknown>) => ({ ...t, added_tokens: null }), /tokenizer\.json: added_tokens must be a list of \{ id, content \} objects \(got null\)/],
    ['an added token without an id', (t: Record<string, unknown>) => ({ ...t, added_tokens: [{ content: '<x>' }] }), /tokenizer\.json: added_tokens\[0\] must be an object with a whole-number id/],
    [
      'a Unigram type on BPE data',
      (t: Record<string, unknown>) => ({ ...t, model: { ...(t['model'] as object), type: 'Unigram' } }),
      /tokenizer\.json: model\.vocab must be a list of \[piece, score\] pairs for a Unigram model \(got an object\)/,
    ],
    ['an empty vocab object', (t: Record<string, unknown>) => ({ ...t, model: { ...(t['model'] as object), vocab: {} } }), /tokenizer\.json: model\.vocab is empty, so every text would encode to nothing/],
    [
      'an empty vocab list',
      (t: Record<string, unknown>) => ({ ...t, model: { ...(t['model'] as object), vocab: [] } }),
      /tokenizer\.json: model\.vocab must be an object mapping tokens to ids for a BPE model \(got an array\)/,
    ],
    ['BPE without merges', (t: Record<string, unknown>) => ({ ...t, model: { ...(t['model'] as object), merges: null } }), /tokenizer\.json: model\.merges must be a list for a BPE model/],
    ['no model', (t: Record<string, unknown>) => ({ ...t, model: null }), /tokenizer\.json: model must be an object with the tokenizer's type and vocab \(got null\)/],
  ])('rejects a tokenizer.json with %s', async (_, edit, message) => {
    await rejects(await withJson('tokenizer.json', edit), 'tokenizer.json', message);
  });

  it('loads a tokenizer.json without added_tokens, and a list of named chat templates with a default', async () => {
    const dir = await withJson('tokenizer.json', ({ added_tokens: _, ...rest }) => rest);
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: [{ name: 'default', template: '{{ messages[0].content }}!' }, { name: 'tool_use', template: 'x' }] }));
    const model = await weft.load(dir);
    expect(model.tokenizer.encode('Once upon a time', { addSpecialTokens: false }).length).toBeGreaterThan(0);
    expect(model.tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }])).toBe('hi!');
    await model.dispose();
  });

  it('says which named chat templates there are when none is the default', async () => {
    const dir = await withJson('tokenizer_config.json', (c) => ({ ...c, chat_template: [{ name: 'tool_use', template: 'x' }, { name: 'rag', template: 'y' }] }));
    const model = await weft.load(dir);
    expect(() => model.tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(
      /tokenizer_config\.json names its chat templates \("tool_use", "rag"\) but none "default", the one Weft uses; pass `prompt`/,
    );
    await model.dispose();
  });
});

describe('readKvLayout and the type of the logits output', () => {
  const config = { numLayers: 1, numKvHeads: 2, headDim: 8, vocabSize: 16 } as ModelConfig;
  const session = (logits: Omit<ValueInfo, 'name'>): InferenceSession =>
    ({
      inputNames: ['input_ids'],
      outputNames: ['logits'],
      inputMetadata: [],
      outputMetadata: [{ name: 'logits', ...logits }],
    }) as unknown as InferenceSession;

  // int64 logits loaded, then sampling threw "Cannot convert a BigInt value to a number".
  it.each(['int64', 'int32'] as const)('rejects %s logits at load', (type) => {
    expect(() => readKvLayout(session({ type, shape: ['b', 's', 16] }), config, 'g.onnx')).toThrow(
      new RegExp(`^g\\.onnx declares its "logits" output as ${type}; Weft reads float32 or float16 logits only: export the graph with float32 logits`),
    );
  });

  it('accepts float32 logits, logits whose type the runtime does not report, and float16 logits (converted as read)', () => {
    expect(readKvLayout(session({ type: 'float32', shape: ['b', 's', 16] }), config, 'g.onnx').hasPast).toBe(false);
    expect(readKvLayout(session({}), config, 'g.onnx').hasPast).toBe(false);
    expect(readKvLayout(session({}), config, 'g.onnx').logitsType).toBeUndefined();
    expect(readKvLayout(session({ type: 'float16', shape: ['b', 's', 16] }), config, 'g.onnx').logitsType).toBe('float16');
  });
});
