import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AdapterResolutionError,
  createWeft,
  definePlugin,
  HfTokenizer,
  InvalidOptionsError,
  ModelLoadError,
  PluginError,
  TOKENIZERS,
  type Tokenizer,
  type TokenizerFiles,
} from '../src/index.js';
import { collect, done, fixture, runtime } from './helpers.js';

/** A tokenizer plugin (priority 10, above core's 0) that wraps the Hugging Face one and records calls. */
function recordingTokenizer() {
  const calls: string[] = [];
  const made: Tokenizer[] = [];
  const plugin = definePlugin({
    name: 'recording-tokenizer',
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('tokenizer', {
        name: 'recording',
        priority: 10,
        create(files: TokenizerFiles): Tokenizer {
          calls.push(`create ${files.location}`);
          const inner = new HfTokenizer(files.tokenizerJson, { ...files.tokenizerConfig }, files.resolve('tokenizer.json'));
          const piece = inner.tokenPiece;
          const tokenizer: Tokenizer = {
            chatTemplateAddsBos: inner.chatTemplateAddsBos,
            vocabSize: inner.vocabSize,
            encode: (text, o) => (calls.push(`encode ${text}`), inner.encode(text, o)),
            decode: (ids, o) => (calls.push('decode'), inner.decode(ids, o)),
            applyChatTemplate: (m, o) => inner.applyChatTemplate(m, o),
            tokenToId: (t) => inner.tokenToId(t),
            ...(piece ? { tokenPiece: (id: number) => (calls.push('piece'), piece(id)) } : {}),
          };
          made.push(tokenizer);
          return tokenizer;
        },
      });
    },
  });
  return { plugin, calls, made };
}

const request = { prompt: 'Once upon a time', maxTokens: 8 };

describe('tokenizer extension point', () => {
  it('uses a higher-priority plugin tokenizer for load and generate, with the same tokens as the default', async () => {
    const recording = recordingTokenizer();
    const weft = runtime([recording.plugin]);
    const reference = runtime();
    try {
      const model = await weft.load(fixture('tiny'));
      expect(model.tokenizer).toBe(recording.made[0]);
      expect(recording.calls).toEqual([`create ${fixture('tiny')}`]);
      const result = done(await collect(model.generate(request)));
      expect(recording.calls).toContain('encode Once upon a time');
      expect(recording.calls.some((c) => c === 'piece' || c === 'decode')).toBe(true);
      const expected = done(await collect((await reference.load(fixture('tiny'))).generate(request)));
      expect(result.rows[0]!.ids).toEqual(expected.rows[0]!.ids);
      expect(result.rows[0]!.text).toBe(expected.rows[0]!.text);
    } finally {
      await weft.dispose();
      await reference.dispose();
    }
  });

  it('picks the tokenizer named in LoadOptions over a higher-priority one', async () => {
    const recording = recordingTokenizer();
    const weft = runtime([recording.plugin]);
    try {
      const model = await weft.load(fixture('tiny'), { tokenizer: 'huggingface' });
      expect(model.tokenizer).toBeInstanceOf(HfTokenizer);
      await collect(model.generate(request));
      expect(recording.calls).toEqual([]);
    } finally {
      await weft.dispose();
    }
  });

  it('rejects an unknown tokenizer name with an AdapterResolutionError listing the registered ones', async () => {
    const weft = runtime([recordingTokenizer().plugin]);
    try {
      const error = await weft.load(fixture('tiny'), { tokenizer: 'sentencepiece' }).catch((e: unknown) => e);
      expect(AdapterResolutionError.isInstance(error)).toBe(true);
      expect((error as Error).message).toBe(
        'No tokenizer adapter matches "sentencepiece": registered: recording (different name); huggingface (different name)',
      );
      await expect(weft.load(fixture('tiny'), { tokenizer: '' })).rejects.toThrow(InvalidOptionsError);
    } finally {
      await weft.dispose();
    }
  });

  it.each([
    ['throws', () => { throw new Error('vocab missing'); }, /Plugin "bad-tokenizer" failed in tokenizer "bad" create: vocab missing/],
    ['returns an object without methods', () => ({ vocabSize: 3 }), /create\(\) returned an object without encode\(\), decode\(\), applyChatTemplate\(\), tokenToId\(\), not a tokenizer/],
    ['returns null', () => null, /create\(\) returned null, not a tokenizer/],
  ])('names the plugin when its tokenizer create() %s', async (_, create, message) => {
    const bad = definePlugin({
      name: 'bad-tokenizer',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup: (ctx) => ctx.register('tokenizer', { name: 'bad', priority: 5, create: create as () => Tokenizer }),
    });
    const weft = runtime([bad]);
    try {
      const error = await weft.load(fixture('tiny')).catch((e: unknown) => e);
      expect(PluginError.isInstance(error)).toBe(true);
      expect((error as PluginError).plugin).toBe('bad-tokenizer');
      expect((error as Error).message).toMatch(message);
    } finally {
      await weft.dispose();
    }
  });

  it('is resolvable through the TOKENIZERS token and builds the default from TokenizerFiles', async () => {
    const dir = fixture('tiny');
    const files: TokenizerFiles = {
      location: dir,
      tokenizerJson: JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')),
      tokenizerConfig: JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>,
      resolve: (file) => join(dir, file),
    };
    const tokenizer = createWeft().get(TOKENIZERS).create('huggingface', files);
    expect(tokenizer).toBeInstanceOf(HfTokenizer);
    expect(tokenizer.decode(tokenizer.encode('Once upon a time', { addSpecialTokens: false }))).toBe('Once upon a time');
    expect(() => createWeft().get(TOKENIZERS).create('huggingface', { ...files, tokenizerJson: undefined })).toThrow(
      new ModelLoadError(`Cannot read ${join(dir, 'tokenizer.json')}: the model folder needs tokenizer.json.`, { path: join(dir, 'tokenizer.json') }),
    );
  });
});
