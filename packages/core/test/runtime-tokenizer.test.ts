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
      expect(recording.made).toHaveLength(1);
      expect(recording.calls).toEqual([`create ${fixture('tiny')}`]);
      // The model's tokenizer is the plugin's, wrapped so its failures name the plugin.
      expect(model.tokenizer.encode('Tom')).toEqual(recording.made[0]!.encode('Tom'));
      expect(recording.calls.filter((c) => c === 'encode Tom')).toHaveLength(2);
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

  it('names the plugin when its tokenizer fails during generation, and passes its deliberate Weft errors through', async () => {
    const failing = (method: 'encode' | 'decode' | 'tokenPiece', error: () => Error) =>
      definePlugin({
        name: 'flaky-tokenizer',
        version: '1.0.0',
        apiVersion: '^0.1.0',
        setup: (ctx) =>
          ctx.register('tokenizer', {
            name: 'flaky',
            priority: 5,
            create(files: TokenizerFiles): Tokenizer {
              const inner = new HfTokenizer(files.tokenizerJson, { ...files.tokenizerConfig });
              const fail = (): never => {
                throw error();
              };
              return {
                chatTemplateAddsBos: inner.chatTemplateAddsBos,
                vocabSize: inner.vocabSize,
                encode: method === 'encode' ? fail : (t, o) => inner.encode(t, o),
                // Without tokenPiece, streaming decodes windows of ids.
                decode: method === 'decode' ? fail : (ids, o) => inner.decode(ids, o),
                applyChatTemplate: (m, o) => inner.applyChatTemplate(m, o),
                tokenToId: (t) => inner.tokenToId(t),
                ...(method === 'tokenPiece' ? { tokenPiece: fail } : {}),
              };
            },
          }),
      });
    for (const method of ['encode', 'decode', 'tokenPiece'] as const) {
      const weft = runtime([failing(method, () => new RangeError('index out of range'))]);
      try {
        const model = await weft.load(fixture('tiny'));
        const error = await collect(model.generate(request)).catch((e: unknown) => e);
        expect(PluginError.isInstance(error), method).toBe(true);
        expect(error).toMatchObject({ plugin: 'flaky-tokenizer', stage: `tokenizer "flaky" ${method}` });
        expect((error as Error).message).toMatch(/index out of range/);
      } finally {
        await weft.dispose();
      }
    }
    const deliberate = runtime([failing('encode', () => new InvalidOptionsError('prompt too odd', { option: 'prompt' }))]);
    try {
      const model = await deliberate.load(fixture('tiny'));
      const error = await collect(model.generate(request)).catch((e: unknown) => e);
      expect(InvalidOptionsError.isInstance(error)).toBe(true);
    } finally {
      await deliberate.dispose();
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
