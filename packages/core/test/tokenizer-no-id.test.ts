import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HfTokenizer, ModelLoadError } from '../src/index.js';
import { collect, fixture, runtime } from './helpers.js';

/** The tiny fixture's tokenizer.json with `model` fields replaced (a BPE whose unk_token is not in its vocabulary). */
async function tokenizerJson(model: Record<string, unknown>): Promise<Record<string, unknown>> {
  const json = JSON.parse(await readFile(join(fixture('tiny'), 'tokenizer.json'), 'utf8')) as { model: Record<string, unknown> };
  Object.assign(json.model, model);
  return json;
}

describe('a tokenizer that gives a piece no id', () => {
  // Found by the load fuzzer (seed 495): @huggingface/tokenizers returns `undefined` ids for pieces
  // an unknown unk_token stands for, and generation failed with a TypeError from the feeds.
  const broken = { unk_token: '<nope>', end_of_word_suffix: 5 };

  it('encode refuses it with a ModelLoadError naming tokenizer.json and the unk_token', async () => {
    const t = new HfTokenizer(await tokenizerJson(broken), {}, '/m/tokenizer.json');
    let error: unknown;
    try {
      t.encode('Hello world');
    } catch (e) {
      error = e;
    }
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as ModelLoadError).path).toBe('/m/tokenizer.json');
    expect((error as Error).message).toMatch(/^\/m\/tokenizer\.json cannot encode "Hello world": its model\.unk_token "<nope>" is not a token of its vocabulary/);
  });

  it('text whose pieces all have ids still encodes', async () => {
    const t = new HfTokenizer(await tokenizerJson({ unk_token: '<nope>' }), {});
    expect(t.encode('Hello world').every(Number.isInteger)).toBe(true);
  });

  const weft = runtime();
  let dir: string | undefined;
  afterAll(async () => {
    await weft.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a request fails with that error, not a TypeError from the feeds', async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-no-id-'));
    await cp(fixture('tiny'), dir, { recursive: true });
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(await tokenizerJson(broken)));
    const model = await weft.load(dir);
    const error = await collect(model.generate({ prompt: 'Hello world', maxTokens: 2 })).catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/cannot encode "Hello world"/);
  });
});
