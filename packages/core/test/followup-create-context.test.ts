/**
 * A registry entry's `create(options, context)` gets the model the request runs on (tokenizer,
 * config, generation config, layout), so a plugin can turn words given as options into ids: a
 * processor that bans a word works from a request's options (and so from the CLI) without the
 * application encoding it. Before, `create` got the options only.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { definePlugin, InvalidOptionsError, LOGITS_PROCESSORS, type CreateContext, type WeftPlugin } from '../src/index.js';
import { collect, done, fixture } from './helpers.js';
import { runtimePerTest } from './session-lifecycle-backend.js';

const { runtime } = runtimePerTest();

/** `ban-word` (bans the first token of `options.word`, with and without a leading space), recording each context it gets. */
function banWord(contexts: (CreateContext | undefined)[]): WeftPlugin {
  return definePlugin({
    name: 'ban-word-plugin',
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('logits-processor', {
        name: 'ban-word',
        create: (options, context) => {
          contexts.push(context);
          const word = options?.['word'];
          if (typeof word !== 'string' || word === '') throw new InvalidOptionsError('ban-word needs a word.', { option: 'word' });
          if (context === undefined) throw new Error('ban-word needs a model');
          const ids = [word, ` ${word}`].map((w) => context.tokenizer.encode(w, { addSpecialTokens: false })[0]!);
          return {
            name: 'ban-word',
            process(logits) {
              for (const id of ids) logits[id] = -Infinity;
            },
          };
        },
      });
      ctx.register('kv-cache', {
        name: 'context-recording-store',
        create: (_options, context) => {
          contexts.push(context);
          return ctx.registry.resolve('kv-cache', { name: 'fp32' }).create();
        },
      });
    },
  });
}

describe('create(options, context)', () => {
  it('a processor bans a word given as an option, with the model\'s tokenizer', async () => {
    const contexts: (CreateContext | undefined)[] = [];
    const weft = runtime([banWord(contexts)]);
    const model = await weft.load(fixture('tiny'));
    const prompt = 'Once upon a time';
    const plain = done(await collect(model.generate({ prompt, maxTokens: 6, ignoreEos: true }))).rows[0]!;
    // The first word greedy decoding writes, banned by name.
    const word = plain.text.trim().split(/\s+/)[0]!;
    expect(word.length).toBeGreaterThan(0);
    const banned = [word, ` ${word}`].map((w) => model.tokenizer.encode(w, { addSpecialTokens: false })[0]!);
    expect(banned.some((id) => plain.ids.includes(id))).toBe(true);
    const events = await collect(model.generate({ prompt, maxTokens: 6, ignoreEos: true, processors: [{ name: 'ban-word', options: { word } }] }));
    const row = done(events).rows[0]!;
    expect(row.ids).toHaveLength(6);
    for (const id of banned) expect(row.ids).not.toContain(id);
    // The context: the model's own facts, read-only (frozen copies: a create that writes to them
    // cannot change what the model's later requests read).
    const context = contexts[0]!;
    expect(context.tokenizer).toBe(model.tokenizer);
    expect(context.config).toEqual(model.config);
    expect(context.generationConfig).toEqual(model.generationConfig);
    expect(context.layout).toEqual(model.layout);
    expect(Object.isFrozen(context)).toBe(true);
    expect(() => (context.config as { vocabSize: number }).vocabSize = 5).toThrow(TypeError);
    expect(() => (context.generationConfig.eosTokenIds as number[]).push(1)).toThrow(TypeError);
    expect(() => (context.layout as { numLayers: number }).numLayers = 1).toThrow(TypeError);
    expect(model.config.vocabSize).not.toBe(5);
  }, 20_000);

  it('one context object per model, the same for its generations and evaluations; another model gets its own', async () => {
    const contexts: (CreateContext | undefined)[] = [];
    const weft = runtime([banWord(contexts)]);
    const model = await weft.load(fixture('tiny'));
    const other = await weft.load(fixture('tiny-logits-to-keep'));
    const processors = [{ name: 'ban-word', options: { word: 'the' } }];
    await model.text({ prompt: 'Once', maxTokens: 2, processors });
    await model.text({ prompt: 'Once', maxTokens: 2, processors, kv: 'context-recording-store' });
    await model.evaluate({ inputIds: model.tokenizer.encode('Once upon a time'), kv: 'context-recording-store' });
    await other.text({ prompt: 'Once', maxTokens: 2, processors });
    expect(contexts).toHaveLength(5);
    expect(new Set(contexts.slice(0, 4)).size).toBe(1);
    expect(contexts[4]).not.toBe(contexts[0]);
    expect(contexts[4]!.layout).toEqual(other.layout);
  }, 20_000);

  it('is undefined where there is no model (the extension point\'s create), and options are still checked first', async () => {
    const contexts: (CreateContext | undefined)[] = [];
    const weft = runtime([banWord(contexts)]);
    await weft.ready();
    expect(() => weft.get(LOGITS_PROCESSORS).create('ban-word', { word: 'the' })).toThrow(/ban-word needs a model/);
    expect(contexts).toEqual([undefined]);
    const model = await weft.load(fixture('tiny'));
    const error = await model.text({ prompt: 'Once', maxTokens: 2, processors: [{ name: 'ban-word', options: { word: '' } }] }).then(() => 'ok', (e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as InvalidOptionsError).option).toBe('processors[0].word');
  }, 20_000);
});

describe('the context of a model whose JSON files are unusual but legal', () => {
  it('copies a generation_config nested 5000 deep and keeps a "__proto__" key an own key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-context-json-'));
    try {
      await cp(fixture('tiny'), dir, { recursive: true });
      const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
      await writeFile(join(dir, 'generation_config.json'), `{"bos_token_id":1,"eos_token_id":2,"pad_token_id":0,"extra":${deep},"__proto__":{"temperature":0.01}}`);
      const contexts: (CreateContext | undefined)[] = [];
      const weft = runtime([banWord(contexts)]);
      const model = await weft.load(dir);
      // Before: the first request failed ("Maximum call stack size exceeded", blamed on core's store).
      const events = await collect(model.generate({ prompt: 'Once', maxTokens: 2, processors: [{ name: 'ban-word', options: { word: 'the' } }] }));
      expect(done(events).rows[0]!.ids).toHaveLength(2);
      const raw = contexts[0]!.generationConfig.raw;
      expect(Object.hasOwn(raw, '__proto__')).toBe(true);
      expect(Object.getPrototypeOf(raw)).toBe(Object.prototype);
      expect((raw as { temperature?: unknown }).temperature).toBeUndefined();
      expect(Object.isFrozen(raw['extra'])).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
