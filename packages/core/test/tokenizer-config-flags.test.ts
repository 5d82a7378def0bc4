/**
 * tokenizer_config.json's add_bos_token / add_eos_token, read as transformers' fast tokenizers
 * read them: either flag in the file rebuilds the special tokens of an encoding as
 * `[bos_token] text [eos_token]`; neither leaves tokenizer.json's post-processor alone. Runs on
 * temporary copies of the project's own story tokenizer (and of ../shared/models/stories260k where
 * it exists) with the flags edited.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError, type Tokenizer } from '../src/index.js';
import { promptIds } from '../src/generation/prompt-ids.js';
import { hfTokenizerEntry } from '../src/tokenizer/hf-tokenizer-entry.js';
import { collect, hasStories260k, runtime, stories260k, storyModel } from './helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'weft-tokenizer-flags-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;

type Config = Record<string, unknown>;

/** A new folder with `from`'s tokenizer.json and its tokenizer_config.json as `edit` makes it (the whole model too when `whole`). */
function copyOf(from: string, edit: (config: Config) => Config, whole = false): string {
  const dir = join(scratch, `m${count++}`);
  if (whole) {
    // The graph without attentions is all a load needs; the data sets are not read.
    cpSync(from, dir, { recursive: true, filter: (src) => !src.includes('model_with_attentions') && !src.endsWith('/data') });
  } else {
    mkdirSync(dir);
    cpSync(join(from, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  }
  const config = JSON.parse(readFileSync(join(from, 'tokenizer_config.json'), 'utf8')) as Config;
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(edit(config)));
  return dir;
}

/** `config` without `keys`. */
const without = (config: Config, ...keys: string[]): Config => Object.fromEntries(Object.entries(config).filter(([k]) => !keys.includes(k)));

/** Core's tokenizer built from `dir`'s files, as a load builds it. */
function tokenizerOf(dir: string): Tokenizer {
  return hfTokenizerEntry.create({
    location: dir,
    tokenizerJson: JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    tokenizerConfig: JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Config,
    resolve: (file) => join(dir, file),
  });
}

const PROMPT = 'Once upon a time, there was a little fox named Sam.';
const CHAT = [{ role: 'user', content: 'Hi there' }];
/** What models/story encodes PROMPT and CHAT to before this change (BOS = 1, EOS = 2). */
const STORY_PROMPT_IDS = [1, 878, 876, 264, 395, 50, 366, 277, 264, 350, 699, 371, 662, 52];
const STORY_CHAT_IDS = [1, 4, 16, 78, 111, 366, 16, 5, 16];
const BOS = 1;
const EOS = 2;

const promptOf = (t: Tokenizer, prompt = PROMPT): number[] => promptIds({ prompt }, t, t.vocabSize)[0]!;
const chatOf = (t: Tokenizer): number[] => promptIds({ messages: CHAT }, t, t.vocabSize)[0]!;

describe('add_bos_token / add_eos_token of tokenizer_config.json (models/story)', () => {
  it('as shipped (add_bos_token true): exactly the ids of before; a copy with add_bos_token false drops the BOS tokenizer.json adds', () => {
    const shipped = tokenizerOf(storyModel);
    expect(promptOf(shipped)).toEqual(STORY_PROMPT_IDS);
    expect(shipped.encode(PROMPT)).toEqual(STORY_PROMPT_IDS);
    expect(chatOf(shipped)).toEqual(STORY_CHAT_IDS);
    expect(promptOf(tokenizerOf(copyOf(storyModel, (c) => ({ ...c, add_bos_token: false }))))).toEqual(STORY_PROMPT_IDS.slice(1));
  });

  it('flags absent: tokenizer.json alone decides (ids unchanged); one flag alone rebuilds, keeping what tokenizer.json does with the other token', () => {
    const bare = tokenizerOf(copyOf(storyModel, (c) => without(c, 'add_bos_token', 'add_eos_token')));
    expect(promptOf(bare)).toEqual(STORY_PROMPT_IDS);
    expect(chatOf(bare)).toEqual(STORY_CHAT_IDS);
    // Only add_eos_token: the BOS tokenizer.json adds stays, the EOS is appended.
    const eosOnly = tokenizerOf(copyOf(storyModel, (c) => ({ ...without(c, 'add_bos_token'), add_eos_token: true })));
    expect(promptOf(eosOnly)).toEqual([...STORY_PROMPT_IDS, EOS]);
    // Only add_bos_token false: tokenizer.json adds no EOS, and none comes.
    const noBos = tokenizerOf(copyOf(storyModel, (c) => ({ ...without(c, 'add_eos_token'), add_bos_token: false })));
    expect(promptOf(noBos)).toEqual(STORY_PROMPT_IDS.slice(1));
    // No bos_token in the config (older repositories keep it in special_tokens_map.json): the
    // token tokenizer.json puts first stands in for it.
    const standIn = tokenizerOf(copyOf(storyModel, (c) => ({ ...without(c, 'bos_token'), add_bos_token: true, add_eos_token: true })));
    expect(promptOf(standIn)).toEqual([...STORY_PROMPT_IDS, EOS]);
    expect(chatOf(standIn)).toEqual(STORY_CHAT_IDS);
  });

  it('add_bos_token false: a prompt gets no BOS; a chat template that writes bos_token gives exactly one, one that does not gives none; inputIds stay as given', () => {
    const dir = copyOf(storyModel, (c) => ({ ...c, add_bos_token: false }));
    const t = tokenizerOf(dir);
    expect(promptOf(t)).toEqual(STORY_PROMPT_IDS.slice(1));
    expect(t.encode(PROMPT)).toEqual(t.encode(PROMPT, { addSpecialTokens: false }));
    // The story template starts with {{ bos_token }}: its BOS, and no second one.
    expect(chatOf(t)).toEqual(STORY_CHAT_IDS);
    // transformers encodes a rendered chat with add_special_tokens=False: a template without
    // bos_token gets none when the tokenizer adds none either.
    const plain = tokenizerOf(copyOf(storyModel, (c) => ({ ...c, add_bos_token: false, chat_template: String(c['chat_template']).replace('{{ bos_token }}', '') })));
    expect(chatOf(plain)).toEqual(STORY_CHAT_IDS.slice(1));
    expect(promptIds({ inputIds: [BOS, BOS, 878, EOS] }, t, t.vocabSize)).toEqual([[BOS, BOS, 878, EOS]]);
    expect(promptIds({ inputIds: [878, 876] }, t, t.vocabSize)).toEqual([[878, 876]]);
  });

  it('add_eos_token true: the EOS ends a prompt, never a chat prompt, which still starts with one BOS', () => {
    const t = tokenizerOf(copyOf(storyModel, (c) => ({ ...c, add_eos_token: true })));
    expect(promptOf(t)).toEqual([...STORY_PROMPT_IDS, EOS]);
    expect(promptIds({ prompt: [PROMPT, 'Tom'] }, t, t.vocabSize).map((row) => [row[0], row.at(-1)])).toEqual([[BOS, EOS], [BOS, EOS]]);
    expect(chatOf(t)).toEqual(STORY_CHAT_IDS);
    const both = tokenizerOf(copyOf(storyModel, (c) => ({ ...c, add_bos_token: false, add_eos_token: true })));
    expect(promptOf(both)).toEqual([...STORY_PROMPT_IDS.slice(1), EOS]);
  });

  it.each([
    ['add_bos_token as a string', (c: Config) => ({ ...c, add_bos_token: 'true' }), /tokenizer_config\.json: add_bos_token must be true or false \(got "true"\); fix or remove it\.$/],
    ['add_eos_token 1', (c: Config) => ({ ...c, add_eos_token: 1 }), /tokenizer_config\.json: add_eos_token must be true or false \(got 1\)/],
    [
      'add_eos_token true with an eos_token tokenizer.json lacks',
      (c: Config) => ({ ...c, add_eos_token: true, eos_token: '<|nope|>' }),
      /tokenizer_config\.json: eos_token "<\|nope\|>" is not a token of .*tokenizer\.json, so add_eos_token cannot add it/,
    ],
  ])('rejects %s with a ModelLoadError naming tokenizer_config.json', (_, edit, message) => {
    const dir = copyOf(storyModel, edit);
    let error: unknown;
    try {
      tokenizerOf(dir);
    } catch (e) {
      error = e;
    }
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect((error as ModelLoadError).path).toBe(join(dir, 'tokenizer_config.json'));
  });

  it('a flag that is false needs no token: add_bos_token false with bos_token null loads, and adds nothing', () => {
    const t = tokenizerOf(copyOf(storyModel, (c) => ({ ...c, add_bos_token: false, bos_token: null })));
    expect(t.encode(PROMPT)).toEqual(STORY_PROMPT_IDS.slice(1));
  });

  it('a flag set to true for a token the config does not name adds nothing, as in transformers 5', () => {
    // bos_token null: no BOS, and the config's other flag still counts.
    const noBos = tokenizerOf(copyOf(storyModel, (c) => ({ ...c, add_bos_token: true, bos_token: null, add_eos_token: true })));
    expect(noBos.encode(PROMPT)).toEqual([...STORY_PROMPT_IDS.slice(1), EOS]);
    // No eos_token key, and tokenizer.json's post-processor adds no EOS to stand in for it.
    const noEos = tokenizerOf(copyOf(storyModel, (c) => ({ ...without(c, 'eos_token'), add_eos_token: true })));
    expect(noEos.encode(PROMPT)).toEqual(STORY_PROMPT_IDS);
  });

  it('a null flag is a flag left out (a null keyword argument is the default in transformers)', () => {
    const t = tokenizerOf(copyOf(storyModel, (c) => ({ ...c, add_bos_token: null, add_eos_token: null })));
    expect(t.encode(PROMPT)).toEqual(STORY_PROMPT_IDS);
    const eosOnly = tokenizerOf(copyOf(storyModel, (c) => ({ ...c, add_bos_token: null, add_eos_token: true })));
    expect(eosOnly.encode(PROMPT)).toEqual([...STORY_PROMPT_IDS, EOS]);
  });

  it('end to end: a loaded folder with add_bos_token false feeds its prompt without BOS; a bad flag fails the load', async () => {
    const weft = runtime();
    try {
      const model = await weft.load(copyOf(storyModel, (c) => ({ ...c, add_bos_token: false }), true));
      const start = (await collect(model.generate({ prompt: PROMPT, maxTokens: 1 }))).find((e) => e.type === 'start');
      expect(start?.type === 'start' ? start.promptIds : undefined).toEqual([STORY_PROMPT_IDS.slice(1)]);
      const bad = copyOf(storyModel, (c) => ({ ...c, add_eos_token: 'no' }), true);
      const error = await weft.load(bad).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as ModelLoadError).path).toBe(join(bad, 'tokenizer_config.json'));
    } finally {
      await weft.dispose();
    }
  });
});

describe('add_bos_token / add_eos_token of tokenizer_config.json (stories260k)', () => {
  /** What stories260k encodes PROMPT to before this change (<s> = 1, </s> = 2). */
  const S260K_PROMPT_IDS = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 272, 414, 444, 395, 301, 314, 426];

  it.skipIf(!hasStories260k)('as shipped: exactly the ids of before; copies with add_bos_token false / add_eos_token true drop the BOS / append </s> (skipped without ../shared/models/stories260k)', () => {
    const shipped = tokenizerOf(stories260k);
    expect(promptOf(shipped)).toEqual(S260K_PROMPT_IDS);
    expect(promptOf(tokenizerOf(copyOf(stories260k, (c) => ({ ...c, add_bos_token: false }))))).toEqual(S260K_PROMPT_IDS.slice(1));
    expect(promptOf(tokenizerOf(copyOf(stories260k, (c) => ({ ...c, add_eos_token: true }))))).toEqual([...S260K_PROMPT_IDS, EOS]);
    expect(promptOf(tokenizerOf(copyOf(stories260k, (c) => without(c, 'add_bos_token', 'add_eos_token'))))).toEqual(S260K_PROMPT_IDS);
  });
});
