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
import { createWeft, definePlugin, ModelLoadError, type BackendAdapter, type ModelSource, type SessionOptions } from '@weft/core';
import { NodeBackendAdapter } from '../src/index.js';

const tinyModel = fileURLToPath(new URL('../../../core/test/fixtures/tiny', import.meta.url));

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

/** A runtime on the node backend that counts the sessions it was asked to open. */
function countingRuntime() {
  const opened = { sessions: 0 };
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
            createSession: (source: ModelSource, options?: SessionOptions) => {
              opened.sessions++;
              return inner.createSession(source, options);
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
