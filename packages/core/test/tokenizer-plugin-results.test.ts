/**
 * What a plugin's tokenizer returns is checked where core wraps it (GuardedTokenizer), as what it
 * throws already was: a value of the wrong kind is a PluginError naming the plugin and the method,
 * not a TypeError or RangeError from deep inside the run, nor a BackendError blaming the graph for
 * ids past the vocabulary.
 */
import { describe, expect, it } from 'vitest';
import { definePlugin, HfTokenizer, PluginError, type Tokenizer, type TokenizerFiles } from '../src/index.js';
import { collect, runtime, storyModel } from './helpers.js';

/** A tokenizer plugin over the model's own tokenizer, with `over` replacing some of its methods. */
const oddTokenizer = (over: (inner: HfTokenizer) => Partial<Tokenizer>) =>
  definePlugin({
    name: 'odd-tokenizer',
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup: (ctx) =>
      ctx.register('tokenizer', {
        name: 'odd',
        priority: 5,
        create(files: TokenizerFiles): Tokenizer {
          const inner = new HfTokenizer(files.tokenizerJson, { ...files.tokenizerConfig });
          return {
            chatTemplateAddsBos: inner.chatTemplateAddsBos,
            vocabSize: inner.vocabSize,
            encode: (t, o) => inner.encode(t, o),
            decode: (ids, o) => inner.decode(ids, o),
            applyChatTemplate: (m, o) => inner.applyChatTemplate(m, o),
            tokenToId: (t) => inner.tokenToId(t),
            ...over(inner),
          };
        },
      }),
  });

describe('a plugin tokenizer that returns the wrong kind of value', () => {
  it.each([
    ['encode', 'a fraction', () => ({ encode: () => [1.5] }), /^Plugin "odd-tokenizer" failed in tokenizer "odd" encode: returned a list whose item 0 is 1\.5, not a token id in \[0, \d+\)\.$/],
    ['encode', 'an id past its vocabulary', (t: HfTokenizer) => ({ encode: () => [t.vocabSize] }), /returned a list whose item 0 is \d+, not a token id in \[0, \d+\)/],
    ['encode', 'a string', () => ({ encode: () => 'abc' as never }), /encode: returned "abc", not a list of token ids/],
    ['decode', 'undefined', () => ({ decode: () => undefined as never }), /decode: returned undefined, not a string\.$/],
    ['tokenPiece', 'a number', () => ({ tokenPiece: () => 5 as never }), /tokenPiece: returned 5, not the bytes of a token, an added token's text or null\.$/],
    ['applyChatTemplate', 'a number', () => ({ applyChatTemplate: () => 5 as never }), /applyChatTemplate: returned 5, not a string\.$/],
  ])('is a PluginError naming %s when it returns %s', async (method, _, over, message) => {
    const weft = runtime([oddTokenizer(over)]);
    try {
      const model = await weft.load(storyModel);
      const request = method === 'applyChatTemplate' ? { messages: [{ role: 'user', content: 'Hi' }] } : { prompt: 'Once upon a time', maxTokens: 4 };
      const error = await collect(model.generate(request)).then(() => undefined, (e: unknown) => e);
      expect(PluginError.isInstance(error), String(error)).toBe(true);
      expect(error).toMatchObject({ plugin: 'odd-tokenizer', stage: `tokenizer "odd" ${method}` });
      expect((error as Error).message).toMatch(message);
    } finally {
      await weft.dispose();
    }
  });

  it('is a PluginError when tokenToId returns something other than an id or undefined', async () => {
    const weft = runtime([oddTokenizer(() => ({ tokenToId: () => 'x' as never }))]);
    try {
      const model = await weft.load(storyModel);
      expect(() => model.tokenizer.tokenToId('<|eos|>')).toThrow(/^Plugin "odd-tokenizer" failed in tokenizer "odd" tokenToId: returned "x", not a token id in \[0, \d+\) or undefined\.$/);
    } finally {
      await weft.dispose();
    }
  });
});
