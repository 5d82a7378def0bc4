/**
 * tokenizer.json or tokenizer_config.json content that @huggingface/tokenizers cannot build a
 * tokenizer from (or cannot encode with) is a ModelLoadError naming the file at fault, and in
 * tokenizer.json the part, with what to do; the library's own error is its `cause`, and library
 * internals ("x.split is not a function") stay out of the message.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../src/index.js';
import { HfTokenizer } from '../src/tokenizer/hf-tokenizer.js';
import { runtime, storyModel } from './helpers.js';

const read = async (file: string): Promise<Record<string, unknown>> => JSON.parse(await readFile(join(storyModel, file), 'utf8')) as Record<string, unknown>;
const json = await read('tokenizer.json');
const config = await read('tokenizer_config.json');
/** The config without add_bos_token / add_eos_token: tokenizer.json's own post-processor is used. */
const { add_bos_token: _bos, add_eos_token: _eos, ...configWithoutFlags } = config;

const PATH = '/models/story/tokenizer.json';
const CONFIG_PATH = '/models/story/tokenizer_config.json';

/** The error building a tokenizer from these files throws. */
function buildError(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown> = config): unknown {
  try {
    new HfTokenizer(tokenizerJson, tokenizerConfig, PATH, CONFIG_PATH);
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Expects a ModelLoadError for `path` whose message matches `message`, without `internal`, and whose cause is the library's error. */
function expectBuildError(error: unknown, path: string, message: RegExp, internal?: string): void {
  expect(ModelLoadError.isInstance(error), String(error)).toBe(true);
  expect((error as ModelLoadError).path).toBe(path);
  expect((error as Error).message).toMatch(message);
  const cause = (error as Error).cause;
  expect(cause).toBeInstanceOf(Error);
  expect(ModelLoadError.isInstance(cause)).toBe(false);
  if (internal !== undefined) {
    expect((cause as Error).message).toContain(internal);
    expect((error as Error).message).not.toContain(internal);
  }
}

describe('a tokenizer the library cannot build', () => {
  it('blames tokenizer_config.json, not tokenizer.json, for an additional_special_tokens that is not a list', () => {
    expectBuildError(
      buildError(json, { ...config, additional_special_tokens: 5 }),
      CONFIG_PATH,
      /^\/models\/story\/tokenizer_config\.json: @huggingface\/tokenizers could not build the tokenizer with this config .*; fix the field at fault, or use the model's original tokenizer_config\.json\.$/,
      'forEach is not a function',
    );
  });

  it.each([
    ['decoder', { decoder: { type: 'Sequence', decoders: 5 } }, 'map is not a function'],
    ['pre_tokenizer', { pre_tokenizer: { type: 'Sequence', pretokenizers: 5 } }, 'map is not a function'],
    ['normalizer', { normalizer: { type: 'Sequence', normalizers: 5 } }, 'map is not a function'],
    ['model', { model: { ...(json['model'] as object), merges: [5, 6] } }, 'split is not a function'],
  ])('names the part of tokenizer.json at fault (%s) and says what to do', (part, edit, internal) => {
    expectBuildError(
      buildError({ ...json, ...edit }),
      PATH,
      new RegExp(`^/models/story/tokenizer\\.json: @huggingface/tokenizers could not build its ${part}\\b.*; fix it, or use the model's original tokenizer\\.json\\.$`),
      internal,
    );
  });

  it('keeps what the library says of a value it checks itself (an unknown type, a part it lacks)', () => {
    expectBuildError(buildError({ ...json, normalizer: { type: 'Bogus' } }), PATH, /could not build its normalizer \(Unknown Normalizer type: Bogus\); fix it/);
    const { decoder: _, ...withoutDecoder } = json;
    expectBuildError(buildError(withoutDecoder), PATH, /could not build its decoder \(Tokenizer must contain a "decoder" property\); fix it/);
  });

  it('fails at load, not at every later encode, when tokenizer.json\'s post_processor cannot encode text', () => {
    const broken = { ...json, post_processor: { type: 'TemplateProcessing', single: 5, pair: 5, special_tokens: {} } };
    expectBuildError(buildError(broken, configWithoutFlags), PATH, /^\/models\/story\/tokenizer\.json: @huggingface\/tokenizers could not encode text with its post_processor\b.*; fix it, or use/, 'is not iterable');
    // The config's add_bos_token / add_eos_token replace that post-processor (as transformers does): it loads, and encodes.
    const tokenizer = new HfTokenizer(broken, config, PATH, CONFIG_PATH);
    expect(tokenizer.encode('Once upon a time').length).toBeGreaterThan(1);
  });

  describe('through weft.load', () => {
    const weft = runtime();
    afterAll(() => weft.dispose());

    it('names the model folder\'s tokenizer_config.json', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'weft-tokenizer-build-'));
      try {
        await cp(storyModel, dir, { recursive: true });
        await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, additional_special_tokens: '<|eos|>' }));
        const error = await weft.load(dir).catch((e: unknown) => e);
        expectBuildError(error, join(dir, 'tokenizer_config.json'), /tokenizer_config\.json: @huggingface\/tokenizers could not build the tokenizer with this config/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
