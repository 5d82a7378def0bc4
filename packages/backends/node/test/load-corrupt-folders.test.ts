/**
 * Deterministic regressions for what the load fuzzer (load-fuzz.test.ts) found, in process: each
 * of these ended in a clear error or a normal load once fixed, so none needs a child process.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWeft, definePlugin, InvalidOptionsError, ModelLoadError, type BackendAdapter, type InferenceSession, type ModelSource, type SessionOptions } from '@weft/core';
import { NodeBackendAdapter } from '../src/index.js';
import { decode, editChild, editGraph, first, indexesOf, ONNX, stringField, text, varintField, type Field } from './fuzz/protobuf.js';

const tinyModel = fileURLToPath(new URL('../../../core/test/fixtures/tiny', import.meta.url));
const storyModel = fileURLToPath(new URL('../../../../models/story', import.meta.url));

let scratch: string;
let count = 0;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'weft-corrupt-folders-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A copy of the tiny model, changed by `edit`. */
async function variant(edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(scratch, `m${count++}`);
  await cp(tinyModel, dir, { recursive: true });
  await edit(dir);
  return dir;
}

interface Tokenizer {
  model: Record<string, unknown>;
  added_tokens: unknown[];
}

/** A copy whose tokenizer.json is what `edit` makes of the tiny model's. */
const withTokenizer = (edit: (json: Tokenizer) => unknown): Promise<string> =>
  variant(async (dir) => {
    const path = join(dir, 'tokenizer.json');
    await writeFile(path, JSON.stringify(edit(JSON.parse(await readFile(path, 'utf8')))));
  });

/** A runtime on the node backend that counts the sessions it was asked to open and their runs. */
function countingRuntime() {
  const opened = { sessions: 0, runs: 0 };
  const plugin = definePlugin({
    name: 'counting-node',
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('backend', {
        name: 'node',
        create: (): BackendAdapter => {
          const inner = new NodeBackendAdapter({ intraOpNumThreads: 1 });
          return {
            specificationVersion: 'v1',
            name: 'node',
            externalDataFromBytes: false,
            probe: () => inner.probe(),
            createSession: async (source: ModelSource, options?: SessionOptions) => {
              opened.sessions++;
              const session = await inner.createSession(source, options);
              return new Proxy(session, {
                get(target, key) {
                  if (key === 'run') {
                    return (...args: Parameters<InferenceSession['run']>) => {
                      opened.runs++;
                      return target.run(...args);
                    };
                  }
                  const value: unknown = Reflect.get(target, key, target);
                  return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
                },
              });
            },
          };
        },
      });
    },
  });
  return { weft: createWeft({ plugins: [plugin] }), opened };
}

async function loadError(dir: string): Promise<{ error: unknown; sessions: number }> {
  const { weft, opened } = countingRuntime();
  try {
    const error = await weft.load(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { error, sessions: opened.sessions };
  } finally {
    await weft.dispose();
  }
}

describe("tokenizer.json's ids are read before the tokenizer is built", () => {
  // A vocabulary id of 2^31 made @huggingface/tokenizers walk every id up to it while the
  // tokenizer was built: over a minute with the event loop blocked, before the same refusal.
  it.each([
    ['a vocabulary id of 2^31', (t: Tokenizer) => ((t.model['vocab'] as Record<string, number>)['Ġthe'] = 2 ** 31), 2 ** 31, 'model.vocab["Ġthe"]'],
    ['a vocabulary id of 1024', (t: Tokenizer) => ((t.model['vocab'] as Record<string, number>)['Ġthe'] = 1024), 1024, 'model.vocab["Ġthe"]'],
    ['an added token id of 10^9', (t: Tokenizer) => t.added_tokens.push({ id: 1e9, content: '<|far|>', special: true }), 1e9, 'added_tokens[6] ("<|far|>")'],
  ])('refuses %s past vocab_size with a ModelLoadError naming tokenizer.json and the token', async (_, edit, id, where) => {
    const dir = await withTokenizer((t) => {
      edit(t);
      return t;
    });
    const { error, sessions } = await loadError(dir);
    expect(ModelLoadError.isInstance(error), String(error)).toBe(true);
    expect((error as ModelLoadError).path).toBe(join(dir, 'tokenizer.json'));
    expect((error as Error).message).toBe(
      `The tokenizer has ids up to ${id}, but the model's vocabulary (vocab_size in config.json) has 1024: the tokenizer does not belong to this model (${join(dir, 'tokenizer.json')} gives ${where} the id ${id}).`,
    );
    // The graph is opened (and released): it tells whether config.json or tokenizer.json is wrong.
    expect(sessions).toBe(1);
  });

  it('reports a config.json vocab_size that disagrees with the graph first, whatever the tokenizer holds', async () => {
    const dir = await withTokenizer((t) => {
      (t.model['vocab'] as Record<string, number>)['Ġthe'] = 2 ** 31;
      return t;
    });
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, vocab_size: 999 }));
    const { error } = await loadError(dir);
    expect((error as Error).message).toMatch(/outputs 1024 logits per token but config\.json says vocab_size = 999/);
  });

  // These loaded, then failed the first request with a plain TypeError or RangeError from the
  // feeds ("Cannot convert 0.5 to a BigInt") once the text hit the token.
  it.each([0.5, '3', null, -1])('refuses a vocabulary id of %j before a backend opens the graph', async (id) => {
    const dir = await withTokenizer((t) => {
      (t.model['vocab'] as Record<string, unknown>)['Ġthe'] = id;
      return t;
    });
    const { error, sessions } = await loadError(dir);
    expect(ModelLoadError.isInstance(error), String(error)).toBe(true);
    expect((error as Error).message).toBe(`${join(dir, 'tokenizer.json')}: model.vocab["Ġthe"] is ${id === '3' ? '"3"' : String(id)}, not a token id (a whole number >= 0).`);
    expect(sessions).toBe(0);
  });

  it('refuses a Unigram vocabulary longer than vocab_size', async () => {
    const dir = await withTokenizer((t) => ({
      ...t,
      model: { type: 'Unigram', unk_id: 0, vocab: Array.from({ length: 2000 }, (_, i) => [`p${i}`, -i]) },
      decoder: null,
      pre_tokenizer: null,
      post_processor: null,
      added_tokens: [],
    }));
    const { error } = await loadError(dir);
    expect((error as Error).message).toMatch(/^The tokenizer has ids up to 1999, but .* gives the last of the 2000 pieces of model\.vocab the id 1999\)\.$/);
  });

  it('loads a tokenizer whose largest id is vocab_size - 1', async () => {
    const dir = await withTokenizer((t) => {
      const vocab = t.model['vocab'] as Record<string, number>;
      const last = Object.keys(vocab).find((k) => vocab[k] === 1023)!;
      delete vocab[last];
      t.added_tokens.push({ id: 1023, content: '<|last|>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false });
      return t;
    });
    const { weft } = countingRuntime();
    try {
      const model = await weft.load(dir);
      expect(model.tokenizer.vocabSize).toBe(1024);
      expect(await model.text({ prompt: 'Once upon a time', maxTokens: 2 })).toEqual(expect.any(String));
    } finally {
      await weft.dispose();
    }
  });
});

describe('model files on disk', () => {
  it('are read without a leading byte-order mark, as over HTTP', async () => {
    // Saved "UTF-8 with BOM", config.json was "not valid JSON: Unexpected token '\uFEFF'" from disk
    // (an invisible token in the message) while the same folder loaded over HTTP.
    const dir = await variant(async (d) => {
      for (const file of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
        await writeFile(join(d, file), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), await readFile(join(d, file))]));
      }
    });
    const { weft } = countingRuntime();
    try {
      const model = await weft.load(dir);
      const plain = await weft.load(tinyModel);
      expect(await model.text({ prompt: 'Once upon a time', maxTokens: 4 })).toBe(await plain.text({ prompt: 'Once upon a time', maxTokens: 4 }));
    } finally {
      await weft.dispose();
    }
  });

  it('says what is wrong with a folder or a device in place of a file', async () => {
    const folder = await variant(async (d) => {
      await rm(join(d, 'config.json'));
      await mkdir(join(d, 'config.json'));
    });
    const device = await variant(async (d) => {
      await rm(join(d, 'generation_config.json'));
      await symlink('/dev/zero', join(d, 'generation_config.json'));
    });
    const folderError = (await loadError(folder)).error as ModelLoadError;
    expect(folderError.message).toBe(`${join(folder, 'config.json')} is not a file (it is a folder); it should be the file itself.`);
    if (process.platform === 'win32') return; // no /dev/zero
    const deviceError = (await loadError(device)).error as ModelLoadError;
    // It used to say "(a folder?)" of /dev/zero.
    expect(deviceError.message).toBe(`${join(device, 'generation_config.json')} is not a file (it is a device, a pipe or a socket); it should be the file itself.`);
    expect(deviceError.path).toBe(join(device, 'generation_config.json'));
  });

  it('refuses a named pipe in place of a file instead of waiting for a writer', async () => {
    if (process.platform === 'win32') return;
    const dir = await variant(async (d) => {
      await rm(join(d, 'tokenizer.json'));
      if (spawnSync('mkfifo', [join(d, 'tokenizer.json')]).status !== 0) await mkdir(join(d, 'tokenizer.json')); // no mkfifo: a folder, refused the same way
    });
    const { error } = await loadError(dir);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/tokenizer\.json is not a file \(it is (a device, a pipe or a socket|a folder)\); it should be the file itself\./);
  });
});

/** A dim as a graph declares it: a number, a symbolic name, or null for neither (an unnamed dim). */
type DeclaredDim = bigint | string | null;

/** `fields` with the message at `path` (field numbers, first match at each level) replaced by `edit`'s. */
function editAt(fields: Field[], path: readonly number[], edit: (fields: Field[]) => Field[]): Field[] {
  if (path.length === 0) return edit(fields);
  const at = fields.findIndex((f) => f.num === path[0] && f.wire === 2);
  if (at < 0) throw new Error(`no field ${path[0]}`);
  return editChild(fields, at, (child) => editAt(child, path.slice(1), edit));
}

/** The ONNX `model` with dim `index` of its input or output `name` declared as `dim`. */
function declareDim(model: Uint8Array, name: string, index: number, dim: DeclaredDim): Uint8Array {
  return editGraph(model, (graph) => {
    const at = [...indexesOf(graph, ONNX.graph.input), ...indexesOf(graph, ONNX.graph.output)].find(
      (i) => text(first(decode(graph[i]!.value as Uint8Array), ONNX.valueInfo.name)) === name,
    );
    if (at === undefined) throw new Error(`the graph has no input or output ${name}`);
    return editChild(graph, at, (info) =>
      editAt(info, [ONNX.valueInfo.type, ONNX.type.tensor, ONNX.tensorType.shape], (shape) => {
        const dims = indexesOf(shape, ONNX.shape.dim);
        if (dims[index] === undefined) throw new Error(`${name} has no dim ${index}`);
        const declared = dim === null ? [] : typeof dim === 'string' ? [stringField(ONNX.dim.param, dim)] : [varintField(ONNX.dim.value, dim)];
        return editChild(shape, dims[index]!, () => declared);
      }),
    );
  });
}

type DimEdit = readonly [name: string, index: number, dim: DeclaredDim];

/** A copy of the tiny model whose graph declares the dims `edits` give (the graph's path, and the folder). */
async function withDims(edits: readonly DimEdit[]): Promise<{ dir: string; graph: string }> {
  const dir = await variant(async (d) => {
    const path = join(d, 'onnx/model.onnx');
    let model: Uint8Array = new Uint8Array(await readFile(path));
    for (const [name, index, dim] of edits) model = declareDim(model, name, index, dim);
    await writeFile(path, model);
  });
  return { dir, graph: join(dir, 'onnx/model.onnx') };
}

/** The tiny graph's past inputs or present outputs (two layers). */
const tinyCache = (prefix: 'past_key_values' | 'present'): string[] => [0, 1].flatMap((i) => ['key', 'value'].map((kv) => `${prefix}.${i}.${kv}`));

/** Every input and output of the tiny graph, which all have the batch as dim 0. */
const TINY_IO = ['input_ids', 'attention_mask', 'position_ids', 'logits', ...tinyCache('past_key_values'), ...tinyCache('present')];

/** A folder of models/story's files with its graph with attentions.{i} outputs as onnx/model.onnx, declared as `edits` give. */
async function storyWithAttentions(edits: readonly DimEdit[]): Promise<{ dir: string; graph: string }> {
  const dir = join(scratch, `m${count++}`);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  for (const file of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) await cp(join(storyModel, file), join(dir, file));
  let model: Uint8Array = new Uint8Array(await readFile(join(storyModel, 'onnx/model_with_attentions.onnx')));
  for (const [name, index, dim] of edits) model = declareDim(model, name, index, dim);
  const graph = join(dir, 'onnx/model.onnx');
  await writeFile(graph, model);
  return { dir, graph };
}

const RE_EXPORT = (axes: string): string =>
  `re-export it with dynamic ${axes} axes (e.g. optimum-cli export onnx --task text-generation-with-past, or torch.onnx.export with dynamic_axes / dynamic_shapes), ` +
  `or pick another graph with onnxFile`;

describe("graphs whose declared dims cannot take what Weft feeds are refused at load (they used to fail the first run with onnxruntime's \"Got invalid dimensions\")", () => {
  const cases: [string, () => Promise<{ dir: string; graph: string }>, (graph: string) => string | RegExp][] = [
    [
      'a fixed batch other than 1 (load fuzzer seed 144: attention_mask dim 0 declared 1023)',
      () => withDims([['attention_mask', 0, 1023n]]),
      (graph) =>
        `${graph} declares input "attention_mask" with shape [1023, total_sequence_length]: a fixed batch size of 1023, but Weft feeds it as [batch, past + sequence], ` +
        `with one batch row per prompt of a request (1 for a single prompt and in evaluate). The graph was exported with a static batch size: ${RE_EXPORT('batch')} ` +
        `(a graph whose batch is fixed at 1 loads too, and takes one prompt per request).`,
    ],
    ['a fixed batch of 2 on input_ids', () => withDims([['input_ids', 0, 2n]]), () => /declares input "input_ids" with shape \[2, sequence_length\]: a fixed batch size of 2, but Weft feeds it as \[batch, sequence\]/],
    [
      'no heads on a later layer\'s past key (load fuzzer seed 234: past_key_values.3.key dim 1 declared 0; the check read the first past key only)',
      () => withDims([['past_key_values.1.key', 1, 0n]]),
      (graph) =>
        `${graph} caches 0 key/value heads but config.json says 2 ("past_key_values.1.key" is declared [batch_size, 0, past_sequence_length, 8], and Weft feeds it as ` +
        `[batch, 2, past, 8]): the graph's other past/present tensors declare 2, so the graph disagrees with itself: re-export it, or use an unmodified copy.`,
    ],
    [
      'another head size on a past value',
      () => withDims([['past_key_values.1.value', 3, 16n]]),
      () => /caches head size 16 but config\.json implies 8 \("past_key_values\.1\.value" is declared \[batch_size, 2, past_sequence_length, 16\], and Weft feeds it as \[batch, 2, past, 8\]\): the graph's other/,
    ],
    [
      // onnxruntime reports an output's dims from its own shape inference where that contradicts the
      // declared ones, so only a graph that really computes other heads shows them: here, past heads
      // left symbolic and a config.json whose num_key_value_heads is not the graph's.
      'present outputs with heads other than config.json\'s',
      async () => {
        const made = await withDims(tinyCache('past_key_values').map((name): DimEdit => [name, 1, 'kv_heads']));
        const config = JSON.parse(await readFile(join(made.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
        await writeFile(join(made.dir, 'config.json'), JSON.stringify({ ...config, num_key_value_heads: 4 }));
        return made;
      },
      (graph) =>
        `${graph} caches 2 key/value heads but config.json says 4 ("present.0.key" is declared [batch_size, 2, total_sequence_length, 8], and Weft reads it as ` +
        `[batch, 4, past + sequence, 8]): set num_key_value_heads in config.json to the graph's, or use the graph exported with this config.`,
    ],
    [
      'a fixed sequence length on input_ids (load fuzzer seed 509: input_ids dim 1 declared 2^40)',
      () => withDims([['input_ids', 1, 1n << 40n]]),
      (graph) =>
        `${graph} declares input "input_ids" with shape [batch_size, 1099511627776]: a fixed sequence length of 1099511627776 (dim 1), but Weft feeds it as [batch, sequence], ` +
        `where sequence changes from step to step (the tokens fed at a step: the prompt's length at the first, then 1; evaluate feeds its chunks). ` +
        `The graph was exported with a static sequence length; it must have dynamic axes for the sequence: ${RE_EXPORT('sequence')}.`,
    ],
    ['a fixed sequence length on position_ids', () => withDims([['position_ids', 1, 16n]]), () => /declares input "position_ids" with shape \[batch_size, 16\]: a fixed sequence length of 16 \(dim 1\).*static sequence length/],
    [
      'a fixed sequence length on attention_mask',
      () => withDims([['attention_mask', 1, 1023n]]),
      () => /declares input "attention_mask" with shape \[batch_size, 1023\]: a fixed sequence length of 1023 \(dim 1\), but Weft feeds it as \[batch, past \+ sequence\], where past \+ sequence changes.*static sequence length/,
    ],
    [
      'a fixed past length (a static-cache export)',
      () => withDims(tinyCache('past_key_values').map((name): DimEdit => [name, 2, 128n])),
      () =>
        /declares input "past_key_values\.0\.key" with shape \[batch_size, 2, 128, 8\]: a fixed cache length of 128 \(dim 2\), but Weft feeds it as \[batch, 2, past, 8\], where past changes from step to step \(the tokens cached so far: 0 at the first step.*static KV cache/,
    ],
  ];
  it.each(cases)('refuses %s with a ModelLoadError naming the graph', async (_, make, expected) => {
    const { dir, graph } = await make();
    const { error, sessions } = await loadError(dir);
    expect(ModelLoadError.isInstance(error), String(error)).toBe(true);
    expect((error as ModelLoadError).path).toBe(graph);
    const message = expected(graph);
    if (typeof message === 'string') expect((error as Error).message).toBe(message);
    else expect((error as Error).message).toMatch(message);
    expect(sessions).toBe(1);
  });

  it.each([
    ['a fixed batch of 0 on a present output', () => withDims([['present.0.key', 0, 0n]]), tinyModel, 'onnx/model.onnx'],
    ['a fixed present length', () => withDims([['present.1.value', 2, 129n]]), tinyModel, 'onnx/model.onnx'],
    ['attentions with a fixed length', () => storyWithAttentions([['attentions.2', 3, 64n]]), storyModel, 'onnx/model_with_attentions.onnx'],
  ] as const)('loads and runs %s as before: onnxruntime checks only the inputs\' declared dims', async (_, make, original, originalGraph) => {
    const { dir } = await make();
    const { weft } = countingRuntime();
    try {
      const model = await weft.load(dir);
      const plain = await weft.load(original, { onnxFile: originalGraph });
      const request = { prompt: ['Once upon a time', 'The cat'], maxTokens: 3 };
      expect(await model.text(request)).toBe(await plain.text(request));
    } finally {
      await weft.dispose();
    }
  });

  it('loads symbolic, unnamed and negative dims as before', async () => {
    const { dir } = await withDims([
      ['input_ids', 1, null],
      ['attention_mask', 1, -1n],
      ['past_key_values.0.key', 2, 'my_past'],
      ['present.1.value', 2, null],
      ['logits', 0, 'rows'],
    ]);
    const { weft } = countingRuntime();
    try {
      const model = await weft.load(dir);
      const plain = await weft.load(tinyModel);
      const request = { prompt: ['Once upon a time', 'The cat'], maxTokens: 3 };
      expect(await model.text(request)).toBe(await plain.text(request));
    } finally {
      await weft.dispose();
    }
  });

  it('loads a graph whose batch is fixed at 1, runs it one prompt at a time, and refuses several prompts before any run', async () => {
    const { dir, graph } = await withDims(TINY_IO.map((name): DimEdit => [name, 0, 1n]));
    const { weft, opened } = countingRuntime();
    try {
      const model = await weft.load(dir);
      const plain = await weft.load(tinyModel);
      expect(await model.text({ prompt: 'Once upon a time', maxTokens: 4 })).toBe(await plain.text({ prompt: 'Once upon a time', maxTokens: 4 }));
      const ids = model.tokenizer.encode('Once upon a time there was');
      expect((await model.evaluate({ inputIds: ids, prefillTokens: 3 })).perplexity).toBeCloseTo((await plain.evaluate({ inputIds: ids, prefillTokens: 3 })).perplexity, 4);
      const runs = opened.runs;
      for (const request of [{ prompt: ['Once upon a time', 'The cat'] }, { inputIds: [[1, 2], [3, 4]] }]) {
        const error = await model.text({ ...request, maxTokens: 2 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(InvalidOptionsError.isInstance(error), String(error)).toBe(true);
        expect((error as Error).message).toBe(
          `This graph takes one prompt at a time: ${graph} declares "input_ids" with a fixed batch size of 1, and the request has 2 prompts. ` +
            `Send each prompt in a request of its own, or re-export the graph with a dynamic batch axis.`,
        );
        expect((error as InvalidOptionsError).option).toBe('prompt' in request ? 'prompt' : 'inputIds');
      }
      expect(opened.runs).toBe(runs);
      // One prompt in a list is a batch of one.
      expect(await model.text({ prompt: ['Once upon a time'], maxTokens: 4 })).toBe(await plain.text({ prompt: 'Once upon a time', maxTokens: 4 }));
    } finally {
      await weft.dispose();
    }
  });
});
