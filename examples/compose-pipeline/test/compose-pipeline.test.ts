import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WeftModel } from '@weft/core';
import { bannedTokenIds, createRuntime, firstWord, runPipeline, summarize } from '../pipeline.mjs';

const storyModel = fileURLToPath(new URL('../../../models/story', import.meta.url));
const stories260k = fileURLToPath(new URL('../../../../shared/models/stories260k', import.meta.url));
const hasStories260k = existsSync(stories260k);
if (!hasStories260k) console.warn(`[compose-pipeline test] ${stories260k} is absent: its run is skipped.`);
// Run as a script, the example resolves @weft/* to their builds (`pnpm run build`).
const built = existsSync(fileURLToPath(new URL('../../../packages/core/dist/index.js', import.meta.url)));
const MODELS = [{ name: 'models/story', dir: storyModel }, ...(hasStories260k ? [{ name: 'stories260k', dir: stories260k }] : [])];

interface Result {
  text: string;
  ids: number[];
  bannedIds: number[];
  finishReason: string;
  steps: number;
  analysis: { step: number; data: { entropy: number[]; topProbability: number[] } }[];
}
const run = runPipeline as (model: WeftModel, options: Record<string, unknown>) => Promise<Result>;

describe.each(MODELS)('compose-pipeline example on $name', ({ dir }) => {
  const weft = (createRuntime as () => { load(dir: string): Promise<WeftModel>; dispose(): Promise<void> })();
  let model: WeftModel;
  beforeAll(async () => {
    model = await weft.load(dir);
  });
  afterAll(() => weft.dispose());
  const prompt = 'Once upon a time, there was a little girl named';

  it('the ban-tokens processor keeps out the name the model chose, which appears without it', async () => {
    const plain = await run(model, { prompt, maxTokens: 60 });
    const name = (firstWord as (t: string) => string)(plain.text);
    expect(name).toMatch(/^\p{Lu}\p{L}+$/u); // a name follows "named"
    const banned = (bannedTokenIds as (t: unknown, w: string[]) => number[])(model.tokenizer, [name]);
    expect(banned.length).toBeGreaterThan(0);
    const streamed: string[] = [];
    const withBan = await run(model, { prompt, maxTokens: 60, banWords: [name], onText: (t: string) => streamed.push(t) });
    expect(withBan.bannedIds).toEqual(banned);
    expect(plain.ids.some((id) => banned.includes(id))).toBe(true);
    expect(plain.text).toContain(name);
    expect(withBan.ids.some((id) => banned.includes(id))).toBe(false);
    expect(withBan.text).not.toContain(name);
    expect(withBan.ids).not.toEqual(plain.ids);
    expect(streamed.join('')).toBe(withBan.text);
  });

  it('the entropy analyzer publishes an event for every forward step', async () => {
    const result = await run(model, { prompt, maxTokens: 30 });
    expect(result.steps).toBeGreaterThan(1);
    expect(result.analysis.map((a) => a.step)).toEqual([...Array(result.steps).keys()]);
    for (const { data } of result.analysis) {
      expect(data.entropy).toHaveLength(1);
      expect(data.entropy[0]).toBeGreaterThanOrEqual(0);
      expect(data.entropy[0]).toBeLessThanOrEqual(Math.log(model.config.vocabSize) + 1e-6);
      expect(data.topProbability[0]).toBeGreaterThan(0);
      expect(data.topProbability[0]).toBeLessThanOrEqual(1);
    }
    expect((summarize as (r: Result) => string)(result)).toMatch(new RegExp(`^${result.steps} analysis events for ${result.steps} forward steps`));
  });

  it.skipIf(!built)('runs as a script (node index.mjs MODEL_DIR)', async () => {
    const script = fileURLToPath(new URL('../index.mjs', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [script, dir], { timeout: 30_000 });
    expect(stdout).toMatch(/== As the model writes it ==/);
    expect(stdout).toMatch(/== With ban-tokens keeping out \p{Lu}\p{L}+ ==/u);
    expect(stdout).toMatch(/analysis events for \d+ forward steps/);
  });
});
