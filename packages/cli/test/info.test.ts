import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { BACKENDS, BUILT_IN_KINDS, RuntimeDisposedError, type Weft } from '@weft/core';
import { INFO_OPTIONS } from '../src/args/info-args.js';
import { groupIndexedNames } from '../src/output/group-names.js';
import { MAIN_USAGE, USAGE } from '../src/usage.js';
import { cli, MODELS, storyModel, type TestModel } from './helpers.js';
import { serveFolder } from '../../core/test/serve-folder.js';

/** Every runtime `openModel` opened in this file, to check that each was disposed when the command returned. */
const opened = vi.hoisted(() => [] as Weft[]);
vi.mock('../src/open-model.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/open-model.js')>();
  return {
    ...real,
    openModel: async (...args: Parameters<typeof real.openModel>) => {
      const result = await real.openModel(...args);
      opened.push(result.weft);
      return result;
    },
  };
});

const fixtures = fileURLToPath(new URL('../../core/test/fixtures/', import.meta.url));
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/** `weft info` on one intra-op thread (the machine is shared). */
const info = (args: readonly string[], cwd?: string) => cli(['info', '--threads', '1', ...args], cwd === undefined ? {} : { cwd });

/** A parsed JSON object, read as a user's script would. */
type Json = Record<string, unknown>;

async function infoJson(args: readonly string[], cwd?: string): Promise<Json> {
  const result = await info([...args, '--json'], cwd);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout.endsWith('\n') && result.stdout.indexOf('\n') === result.stdout.length - 1).toBe(true);
  return JSON.parse(result.stdout) as Json;
}

/** Where the text output's values start. */
const VALUE_COLUMN = 22;

/** The value of `label` in the text output's `section`: its line after the label, with the wrapped lines under it joined. */
function value(text: string, section: string, label: string): string {
  const block = text.split('\n\n').find((b) => b.startsWith(`${section}\n`) || b.startsWith(`${section} (`));
  expect(block, `section ${section}`).toBeDefined();
  const lines = block!.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`  ${label}  `));
  expect(at, `${section} / ${label}`).toBeGreaterThan(0);
  const rest = lines.slice(at + 1);
  const end = rest.findIndex((l) => !l.startsWith(' '.repeat(VALUE_COLUMN)));
  return [lines[at]!.slice(VALUE_COLUMN), ...rest.slice(0, end < 0 ? rest.length : end).map((l) => l.trim())].join(' ');
}

/** What the model folder's files say, read the way transformers reads them. */
function folderFacts(model: TestModel) {
  const read = (file: string): Json => (existsSync(join(model.dir, file)) ? (JSON.parse(readFileSync(join(model.dir, file), 'utf8')) as Json) : {});
  const config = read('config.json');
  const generation = read('generation_config.json');
  const tokenizer = read('tokenizer.json');
  const heads = config['num_attention_heads'] as number;
  const kvHeads = (config['num_key_value_heads'] as number | undefined) ?? heads;
  const headDim = (config['head_dim'] as number | undefined) ?? (config['hidden_size'] as number) / heads;
  const layers = config['num_hidden_layers'] as number;
  const eos = generation['eos_token_id'] ?? config['eos_token_id'];
  const text = (id: number) => (tokenizer['added_tokens'] as { id: number; content: string }[]).find((t) => t.id === id)?.content;
  return {
    config,
    heads,
    kvHeads,
    headDim,
    layers,
    bos: (generation['bos_token_id'] ?? config['bos_token_id']) as number,
    eos: (Array.isArray(eos) ? eos : [eos]) as number[],
    doSample: generation['do_sample'] === true,
    addBos: read('tokenizer_config.json')['add_bos_token'] === true,
    text,
    pastNames: Array.from({ length: layers }, (_, i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]).flat(),
  };
}

/** Whether `weft.dispose()` has run: every later `get` fails with `RuntimeDisposedError`. */
function isDisposed(weft: Weft): boolean {
  try {
    weft.get(BACKENDS);
    return false;
  } catch (error) {
    return RuntimeDisposedError.isInstance(error);
  }
}

beforeEach(() => void opened.splice(0));

describe.each(MODELS)('weft info on $name', (model) => {
  const facts = folderFacts(model);

  it('prints the model, tokenizer, defaults, backend and registry sections with config.json\'s values', async () => {
    const result = await info(['--model', model.dir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const text = result.stdout;
    expect(text.split('\n\n').map((b) => b.split('\n')[0]!.split(' ')[0])).toEqual(['model', 'tokenizer', 'generation', 'backend', 'registry']);
    const { config } = facts;
    expect(value(text, 'model', 'folder')).toBe(model.dir);
    expect(value(text, 'model', 'graph')).toBe('onnx/model.onnx');
    expect(value(text, 'model', 'external data')).toBe('none');
    expect(value(text, 'model', 'type')).toBe(config['model_type']);
    expect(value(text, 'model', 'layers')).toBe(String(facts.layers));
    expect(value(text, 'model', 'heads')).toMatch(new RegExp(`^${facts.heads} attention, ${facts.kvHeads} key/value `));
    expect(value(text, 'model', 'head_dim')).toBe(String(facts.headDim));
    expect(value(text, 'model', 'hidden size')).toBe(String(config['hidden_size']));
    expect(value(text, 'model', 'vocabulary')).toBe(String(config['vocab_size']));
    expect(value(text, 'model', 'max positions')).toBe(String(config['max_position_embeddings']));
    expect(value(text, 'model', 'positions')).toMatch(/^position_ids input/);
    expect(value(text, 'model', 'kv cache')).toMatch(/^past_key_values inputs \(float32\)/);
    expect(value(text, 'model', 'rope')).toMatch(new RegExp(`^theta ${config['rope_theta']}, ${facts.headDim} rotary dims`));

    expect(value(text, 'tokenizer', 'bos')).toBe(`${facts.bos} ${JSON.stringify(facts.text(facts.bos))} (${facts.addBos ? 'added to every encoded prompt' : 'not added when encoding'})`);
    expect(value(text, 'tokenizer', 'eos')).toBe(facts.eos.map((id) => `${id} ${JSON.stringify(facts.text(id))}`).join(', '));
    expect(value(text, 'tokenizer', 'chat template')).toMatch(model.chatTemplate ? /^yes/ : /^none/);
    expect(value(text, 'generation defaults', 'do_sample')).toMatch(new RegExp(`^${facts.doSample}: `));
    expect(value(text, 'generation defaults', 'eos_token_id')).toBe(facts.eos.join(', '));

    // The graph's inputs: the three id inputs, then one key and one value per layer, as one pattern each.
    const inputs = value(text, 'backend', `inputs (${3 + 2 * facts.layers})`);
    expect(inputs).toContain(`past_key_values.{0..${facts.layers - 1}}.key, past_key_values.{0..${facts.layers - 1}}.value`);
    expect(inputs).not.toMatch(/past_key_values\.\d/);
    expect(value(text, 'backend', `outputs (${1 + 2 * facts.layers})`)).toBe(`logits, present.{0..${facts.layers - 1}}.key, present.{0..${facts.layers - 1}}.value`);
    expect(value(text, 'registry', 'defaults')).toBe('kv store fp32, attention router none (every token kept), tokenizer huggingface');
    // Lines stay within 100 columns, except where one word (a path) is longer.
    for (const line of text.split('\n')) if (line.length > 100) expect(line.trim(), line).not.toMatch(/ \S+ /);
  });

  it('--json gives the same facts as one object, with the graph\'s names in full', async () => {
    const json = await infoJson(['--model', model.dir]);
    expect(Object.keys(json)).toEqual(['model', 'tokenizer', 'generation', 'backend', 'registry']);
    const { config } = facts;
    expect(json['model']).toMatchObject({
      location: model.dir,
      graphFile: 'onnx/model.onnx',
      externalData: [],
      modelType: config['model_type'],
      layers: facts.layers,
      attentionHeads: facts.heads,
      kvHeads: facts.kvHeads,
      headDim: facts.headDim,
      hiddenSize: config['hidden_size'],
      vocabSize: config['vocab_size'],
      maxPositions: config['max_position_embeddings'],
      positionIds: true,
      kvCache: true,
      kvCacheType: 'float32',
      kvBytesPerToken: 2 * facts.layers * facts.kvHeads * facts.headDim * 4,
      mergedDecoder: false,
    });
    expect(json['tokenizer']).toMatchObject({
      name: 'huggingface',
      vocabSize: config['vocab_size'],
      bos: { id: facts.bos, text: facts.text(facts.bos) },
      eos: facts.eos.map((id) => ({ id, text: facts.text(id) })),
      addsBos: facts.addBos,
      chatTemplate: model.chatTemplate,
    });
    expect(json['generation']).toMatchObject({ doSample: facts.doSample, eosTokenIds: facts.eos });
    const backend = json['backend'] as { name: string; rejected: { name: string }[]; inputs: string[]; outputs: string[] };
    expect([backend.name, ...backend.rejected.map((r) => r.name)].sort()).toEqual(['node', 'npu', 'web']);
    expect(backend.inputs).toHaveLength(3 + facts.pastNames.length);
    expect(backend.inputs).toEqual(expect.arrayContaining(['input_ids', 'attention_mask', 'position_ids', ...facts.pastNames]));
    expect(backend.outputs).toEqual(expect.arrayContaining(['logits', ...facts.pastNames.map((n) => n.replace('past_key_values', 'present'))]));
    const registry = json['registry'] as { defaults: Json; kinds: Record<string, { name: string; owner: string }[]>; hooks: unknown[] };
    expect(Object.keys(registry.kinds)).toEqual([...BUILT_IN_KINDS]);
    expect(registry.kinds['backend']!.map((e) => e.name).sort()).toEqual(['node', 'npu', 'web']);
    expect(registry.kinds['kv-cache']!.map((e) => e.name)).toEqual(expect.arrayContaining(['fp32', 'int8', 'int4', 'kivi']));
    expect(registry.kinds['attention-router']!.find((e) => e.name === 'heavy-hitter')).toMatchObject({ owner: '@weft/plugin-attention', capabilities: ['attentions'] });
    expect(registry.defaults).toEqual({ kvCache: 'fp32', attentionRouter: null, tokenizer: 'huggingface' });
    expect(registry.hooks).toEqual([]);
  });
});

describe('weft info on graphs of other shapes (core test fixtures)', () => {
  it('says when the graph has no past inputs: every step recomputes the sequence', async () => {
    const dir = join(fixtures, 'tiny-no-past');
    const json = await infoJson(['--model', dir]);
    expect(json['model']).toMatchObject({ kvCache: false, kvCacheType: null, kvBytesPerToken: null, positionIds: true });
    expect((json['backend'] as Json)['inputs']).toEqual(['input_ids', 'attention_mask', 'position_ids']);
    const text = (await info(['--model', dir])).stdout;
    expect(value(text, 'model', 'kv cache')).toMatch(/^none: the graph has no past_key_values inputs, so each step recomputes/);
    expect(value(text, 'backend', 'inputs (3)')).toBe('input_ids, attention_mask, position_ids');
  });

  it('says when the graph takes no position_ids', async () => {
    const dir = join(fixtures, 'tiny-no-position-ids');
    expect((await infoJson(['--model', dir]))['model']).toMatchObject({ positionIds: false, kvCache: true });
    expect(value((await info(['--model', dir])).stdout, 'model', 'positions')).toBe('no position_ids input: the graph derives positions itself');
  });

  it('lists the external data files a graph reads its weights from', async () => {
    const dir = join(fixtures, 'tiny-external');
    expect((await infoJson(['--model', dir]))['model']).toMatchObject({ graphFile: 'onnx/model.onnx', externalData: ['model.onnx_data'] });
    expect(value((await info(['--model', dir])).stdout, 'model', 'external data')).toBe('model.onnx_data');
  });

  it('over HTTP: names the graph core found, and says the external data files were not read', async () => {
    const server = await serveFolder(join(fixtures, 'tiny-merged'));
    try {
      const model = (await infoJson(['--model', server.url]))['model'] as Json;
      expect(model).toMatchObject({ location: server.url, graphFile: 'onnx/decoder_model_merged.onnx', externalData: null });
      expect(value((await info(['--model', server.url])).stdout, 'model', 'external data')).toBe('not checked (URL folder)');
    } finally {
      server.close();
    }
  });

  it('says a request without --temperature is greedy when do_sample comes with temperature 0, as core resolves it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-cli-info-sample-'));
    try {
      await cp(join(fixtures, 'tiny'), dir, { recursive: true });
      const config = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ ...config, do_sample: true, temperature: 0 }));
      expect(value((await info(['--model', dir])).stdout, 'generation defaults', 'do_sample')).toBe('true: a request without --temperature is greedy');
      await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ ...config, do_sample: true, temperature: 0.7 }));
      expect(value((await info(['--model', dir])).stdout, 'generation defaults', 'do_sample')).toBe('true: a request without --temperature samples at temperature 0.7');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says the pad token is the first eos when the model names none, and not when it names one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-cli-info-pad-'));
    try {
      await cp(join(fixtures, 'tiny'), dir, { recursive: true });
      const named = (await infoJson(['--model', dir]))['tokenizer'] as Json;
      expect(named).toMatchObject({ padFallback: false });
      expect(value((await info(['--model', dir])).stdout, 'tokenizer', 'pad')).not.toMatch(/names none/);
      for (const file of ['config.json', 'generation_config.json']) {
        const { pad_token_id: _, ...rest } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
        await writeFile(join(dir, file), JSON.stringify(rest));
      }
      const fallback = (await infoJson(['--model', dir]))['tokenizer'] as Json;
      expect(fallback).toMatchObject({ padFallback: true, pad: (fallback['eos'] as Json[])[0] });
      expect(value((await info(['--model', dir])).stdout, 'tokenizer', 'pad')).toMatch(/^\d+ ".*" \(the model names none in its vocabulary; the first eos pads batch rows\)$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says when the chat template refuses a one-message user chat, and why (its own rule)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-cli-info-template-'));
    try {
      await cp(join(fixtures, 'tiny'), dir, { recursive: true });
      const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
      const template = "{% if messages[0]['role'] != 'system' %}{{ raise_exception('A system message must come first') }}{% endif %}{% for m in messages %}{{ m['content'] }}{% endfor %}";
      await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: template }));
      const tokenizer = (await infoJson(['--model', dir]))['tokenizer'] as Json;
      expect(tokenizer).toMatchObject({ chatTemplate: true, chatTemplateRefusal: expect.stringContaining('A system message must come first') });
      expect(value((await info(['--model', dir])).stdout, 'tokenizer', 'chat template')).toMatch(/^yes, but it refuses a one-message user chat: .*A system message must come first/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says a chat template that does not parse is unusable, and why, rather than a refusal of its own', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-cli-info-unparsed-'));
    try {
      await cp(join(fixtures, 'tiny'), dir, { recursive: true });
      const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: '{% for %}' }));
      const tokenizer = (await infoJson(['--model', dir]))['tokenizer'] as Json;
      expect(tokenizer).toMatchObject({ chatTemplate: false, chatTemplateRefusal: expect.stringMatching(/^The chat_template in .* does not parse: /) });
      expect(value((await info(['--model', dir])).stdout, 'tokenizer', 'chat template')).toMatch(/^unusable \(--messages is refused; use --prompt\): The chat_template in .* does not parse: /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the graph core found when onnx/model.onnx is absent (an Optimum merged decoder)', async () => {
    const dir = join(fixtures, 'tiny-merged');
    expect((await infoJson(['--model', dir]))['model']).toMatchObject({ graphFile: 'onnx/decoder_model_merged.onnx', mergedDecoder: true });
    expect(value((await info(['--model', dir])).stdout, 'model', 'graph')).toBe('onnx/decoder_model_merged.onnx');
  });

  it('loads the graph --onnx-file names (relative or absolute) and counts its attention outputs', async () => {
    const relative = await infoJson(['--model', storyModel, '--onnx-file', 'onnx/model_with_attentions.onnx']);
    const absolute = await infoJson(['--model', storyModel, '--onnx-file', join(storyModel, 'onnx/model_with_attentions.onnx')]);
    for (const json of [relative, absolute]) {
      expect(json['model']).toMatchObject({ graphFile: 'onnx/model_with_attentions.onnx', attentionOutputs: (json['model'] as Json)['layers'] });
    }
    expect((await infoJson(['--model', storyModel]))['model']).toMatchObject({ attentionOutputs: 0 });
  });
});

describe('weft info --plugin', () => {
  let dir: string;
  const MANIFEST = `version: '1.0.0', apiVersion: '^0.1.0'`;
  const MODULES: Record<string, string> = {
    'store.mjs': `export const plugin = { name: 'weft-plugin-int8-again', ${MANIFEST},
  setup(ctx) {
    ctx.register('kv-cache', { name: 'int8-again', capabilities: ['compressed'], description: 'the int8 store under another name',
      create: (options) => ctx.registry.resolve('kv-cache', { name: 'int8' }).create(options) });
  } };\n`,
    // A kind of its own, declared, with one entry (the registry lists kinds declared after core's).
    'critic.mjs': `export default { name: 'weft-plugin-critic', ${MANIFEST},
  setup(ctx) {
    ctx.declareKind('story-critic');
    ctx.register('story-critic', { name: 'harsh', description: 'finds fault with every story', create: () => ({}) });
  } };\n`,
    'hooks.mjs': `export default { name: 'weft-plugin-story-log', ${MANIFEST},
  setup(ctx) { ctx.addHooks({ beforeForward() {}, afterToken() {} }); } };\n`,
    // The runtime's default router reads attentions: the CLI then loads the attention graph.
    'attention-default.mjs': `export default { name: 'weft-plugin-attention-default', ${MANIFEST},
  setup(ctx) {
    ctx.register('attention-router', { name: 'attention-probe', capabilities: ['default', 'attentions'],
      create: () => ({ specificationVersion: 'v1', name: 'attention-probe', select: () => undefined }) });
  } };\n`,
    // A tokenizer that outranks core's and cannot decode: info fails after the model loaded.
    'broken-decode.mjs': `export default { name: 'weft-plugin-broken-decode', ${MANIFEST},
  setup(ctx) {
    const core = ctx.registry.resolve('tokenizer', { name: 'huggingface' });
    ctx.register('tokenizer', { name: 'broken-decode', priority: 10, create: (files) => {
      const inner = core.create(files);
      return { chatTemplateAddsBos: inner.chatTemplateAddsBos, vocabSize: inner.vocabSize,
        encode: (text, options) => inner.encode(text, options), tokenToId: (token) => inner.tokenToId(token),
        applyChatTemplate: (messages, options) => inner.applyChatTemplate(messages, options),
        decode: () => { throw new Error('this decode is broken'); } };
    } });
  } };\n`,
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-cli-info-'));
    for (const [name, text] of Object.entries(MODULES)) await writeFile(join(dir, name), text);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('lists the entries a --plugin registers under its kind, with its owner and description', async () => {
    const kv = (json: Json) => ((json['registry'] as Json)['kinds'] as Record<string, Json[]>)['kv-cache']!;
    expect(kv(await infoJson(['--model', storyModel], dir)).map((e) => e['name'])).not.toContain('int8-again');
    const json = await infoJson(['--model', storyModel, '--plugin', './store.mjs'], dir);
    expect(kv(json)).toContainEqual({ name: 'int8-again', owner: 'weft-plugin-int8-again', priority: 0, capabilities: ['compressed'], description: 'the int8 store under another name' });
    const text = (await info(['--model', storyModel, '--plugin', './store.mjs'], dir)).stdout;
    const lines = text.split('\n');
    const at = lines.findIndex((l) => /^ {4}int8-again {2,}the int8 store under another name$/.test(l));
    expect(at, text).toBeGreaterThan(lines.indexOf('  kv-cache (--kv)'));
    expect(lines[at + 1]!.trim()).toBe('weft-plugin-int8-again, [compressed]');
  });

  it('lists a kind a --plugin declares, after core\'s kinds, with its entries', async () => {
    const json = await infoJson(['--model', storyModel, '--plugin', './critic.mjs'], dir);
    const kinds = (json['registry'] as Json)['kinds'] as Record<string, Json[]>;
    expect(Object.keys(kinds)).toEqual([...BUILT_IN_KINDS, 'story-critic']);
    expect(kinds['story-critic']).toEqual([{ name: 'harsh', owner: 'weft-plugin-critic', priority: 0, capabilities: [], description: 'finds fault with every story' }]);
    const text = (await info(['--model', storyModel, '--plugin', './critic.mjs'], dir)).stdout;
    expect(text).toMatch(/\n  story-critic\n    harsh +finds fault with every story\n/);
  });

  it('lists the hooks a --plugin adds', async () => {
    const json = await infoJson(['--model', storyModel, '--plugin', './hooks.mjs'], dir);
    expect((json['registry'] as Json)['hooks']).toEqual([{ owner: 'weft-plugin-story-log', hooks: ['beforeForward', 'afterToken'], feeds: [] }]);
    expect(value((await info(['--model', storyModel, '--plugin', './hooks.mjs'], dir)).stdout, 'registry', 'hooks')).toBe('weft-plugin-story-log: beforeForward, afterToken');
  });

  it('reports the graph generate would load when a plugin\'s default router reads attentions', async () => {
    const json = await infoJson(['--model', storyModel, '--plugin', './attention-default.mjs'], dir);
    expect((json['registry'] as Json)['defaults']).toMatchObject({ attentionRouter: 'attention-probe' });
    expect(json['model']).toMatchObject({ graphFile: 'onnx/model_with_attentions.onnx', attentionOutputs: (json['model'] as Json)['layers'] });
  });

  it('disposes the model when reading it fails after the load (a plugin tokenizer that throws), with exit 1 (the plugin\'s failure, not the input\'s) and one line', async () => {
    const result = await info(['--model', storyModel, '--plugin', './broken-decode.mjs'], dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^weft: .*weft-plugin-broken-decode.*this decode is broken.*\n$/);
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect(opened).toHaveLength(1);
    expect(isDisposed(opened[0]!)).toBe(true);
  });
});

describe('weft info errors, help and disposal', () => {
  it('disposes the model after a successful run', async () => {
    expect((await info(['--model', storyModel])).code).toBe(0);
    expect(opened).toHaveLength(1);
    expect(isDisposed(opened[0]!)).toBe(true);
  });

  it('refuses a missing model folder with exit 2 and one line', async () => {
    const missing = join(tmpdir(), 'weft-info-no-such-model');
    const result = await info(['--model', missing]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`weft: Model folder ${missing} does not exist.\n`);
  });

  it.each([
    [['--frob'], 'weft: unknown option --frob (see weft info --help)\n'],
    [['--jsn'], 'weft: unknown option --jsn; did you mean --json? (see weft info --help)\n'],
    [['extra'], 'weft: unexpected argument "extra" (see weft info --help)\n'],
    [['--json', '--json'], 'weft: --json was given more than once\n'],
    [['--onnx-file', ''], 'weft: --onnx-file needs a graph file within the model folder, such as onnx/model.onnx\n'],
  ])('refuses bad usage %j with exit 2 and one line, before loading anything', async (args, line) => {
    const result = await info(args);
    expect(result).toMatchObject({ code: 2, stdout: '', stderr: line });
    expect(opened).toHaveLength(0);
  });

  it('names the flag when core refuses a load option', async () => {
    const outside = await info(['--model', storyModel, '--onnx-file', '../elsewhere.onnx']);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/^weft: --onnx-file: onnxFile must be a path inside the model folder.*\n$/);
    const backend = await info(['--model', storyModel, '--backend', 'tpu']);
    expect(backend).toMatchObject({ code: 2, stderr: 'weft: --backend: unknown backend "tpu"; did you mean npu? (auto, node, web, npu)\n' });
  });

  it('prints its help, lists every flag it takes in one column, and is listed by weft --help', async () => {
    for (const argv of [['info', '--help'], ['help', 'info']]) {
      const result = await cli(argv);
      expect(result).toMatchObject({ code: 0, stdout: USAGE.info, stderr: '' });
    }
    expect(USAGE.info).toMatch(/^Usage: weft info /);
    const listed = new Set([...USAGE.info.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]));
    expect(Object.keys(INFO_OPTIONS).map((o) => `--${o}`).filter((flag) => !listed.has(flag))).toEqual([]);
    const lines = USAGE.info.split('\n');
    const after = lines.slice(lines.indexOf('Options:') + 1);
    for (const line of after.slice(0, after.findIndex((l) => !l.startsWith(' ')))) {
      expect(line.slice(0, 29), line).toMatch(/^(  -\S+(?: \S+)* {2,}| {29})$/);
    }
    expect(MAIN_USAGE).toMatch(/^ {2}info {7}what Weft will do with a model folder/m);
  });
});

describe('the README of @weft/cli', () => {
  it('documents every key of weft info --json', async () => {
    const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
    const section = readme.slice(readme.indexOf('## `weft info`'), readme.indexOf('## Programmatic use'));
    const json = await infoJson(['--model', storyModel]);
    const keys = Object.entries(json).flatMap(([part, facts]) => Object.keys(facts as Json).map((key) => `${part}.${key}`));
    expect(keys.length).toBeGreaterThan(40);
    expect(keys.filter((key) => !section.includes(`\`${key}\``))).toEqual([]);
  });
});

describe('groupIndexedNames', () => {
  it('shortens runs of per-layer names to one pattern each and keeps other names', () => {
    expect(groupIndexedNames(['logits', 'present.0.key', 'present.0.value', 'present.1.key', 'present.1.value', 'attentions.0', 'attentions.1'])).toEqual([
      'logits',
      'present.{0..1}.key',
      'present.{0..1}.value',
      'attentions.{0..1}',
    ]);
    expect(groupIndexedNames(['a.0.k', 'a.2.k', 'a.5.k', 'gpt2_out', 'x.3.y'])).toEqual(['a.{0,2,5}.k', 'gpt2_out', 'x.3.y']);
  });
});

describe.skipIf(!existsSync(bin))('dist/bin.js info as a real process', () => {
  it('prints the text and the JSON for the default model and exits 0', async () => {
    const run = (...args: string[]) => promisify(execFile)(process.execPath, [bin, 'info', '--threads', '1', ...args], { timeout: 30_000 });
    const text = await run();
    expect(text.stderr).toBe('');
    expect(value(text.stdout, 'model', 'folder')).toBe(storyModel);
    const json = JSON.parse((await run('--json')).stdout) as Json;
    expect(json['model']).toMatchObject({ location: storyModel, graphFile: 'onnx/model.onnx' });
  });
});
