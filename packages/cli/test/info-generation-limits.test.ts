/**
 * `weft info` shows generation_config.json's length and ban keys (max_new_tokens, max_length,
 * min_new_tokens, min_length, suppress_tokens, begin_suppress_tokens, bad_words_ids), which core
 * applies, in its text and JSON output.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli, storyModel } from './helpers.js';

const tiny = fileURLToPath(new URL('../../core/test/fixtures/tiny', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-info-limits-'));
  await cp(tiny, dir, { recursive: true });
  const suppress = Array.from({ length: 20 }, (_, i) => 100 + i);
  await writeFile(
    join(dir, 'generation_config.json'),
    JSON.stringify({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 0, max_new_tokens: 40, max_length: 100, min_length: 5, suppress_tokens: suppress, begin_suppress_tokens: [7], bad_words_ids: [[8], [9, 10]] }),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The generation section's lines of `weft info` on `model`. */
async function generationSection(model: string): Promise<string> {
  const result = await cli(['info', '--threads', '1', '--model', model]);
  expect(result.code).toBe(0);
  return result.stdout.split('\n\n').find((b) => b.startsWith('generation defaults'))!;
}

it('lists the length and ban keys as core applies them', async () => {
  const text = await generationSection(dir);
  expect(text).toMatch(/^ {2}max_new_tokens {6}40: new tokens without --max-tokens$/m);
  expect(text).toMatch(/^ {2}max_length {10}100 \(max_new_tokens wins\)$/m);
  expect(text).toMatch(/^ {2}min_new_tokens {6}not set$/m);
  expect(text).toMatch(/^ {2}min_length {10}5: no end-of-sequence id before prompt \+ new tokens reach it$/m);
  expect(text).toMatch(/^ {2}suppress_tokens {5}20 ids: 100, 101, 102, 103, 104, 105, 106, 107, …$/m);
  expect(text).toMatch(/^ {2}begin_suppress_tokens\n {22}7$/m);
  expect(text).toMatch(/^ {2}bad_words_ids {7}\[8\], \[9 10\]$/m);
});

it("says models/story's max_length 1024 never lengthens the 256 default", async () => {
  const text = await generationSection(storyModel);
  expect(text).toMatch(/^ {2}max_new_tokens {6}not set \(256 without --max-tokens\)$/m);
  expect(text).toMatch(/^ {2}max_length {10}1024: caps prompt \+ new tokens without --max-tokens \(never past 256 new\)$/m);
  expect(text).toMatch(/^ {2}bad_words_ids {7}none$/m);
});

it('gives them in the JSON output', async () => {
  const result = await cli(['info', '--threads', '1', '--model', dir, '--json']);
  const json = JSON.parse(result.stdout) as { generation: Record<string, unknown> };
  expect(json.generation).toMatchObject({ maxNewTokens: 40, maxLength: 100, minNewTokens: null, minLength: 5, beginSuppressTokens: [7], badWordsIds: [[8], [9, 10]] });
  expect(json.generation['suppressTokens']).toHaveLength(20);
});
