import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, ContextOverflowError, InvalidOptionsError, PluginError, type WeftModel } from '@weft/core';
import { bannedTokenIds, createRuntime, errorLine, exitCodeOf, firstWord, runPipeline, summarize } from '../pipeline.mjs';

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
  analysis: { step: number; data: { entropy: number[]; topId: number[]; topProbability: number[] } }[];
  overrides: { step: number; topId: number; pickedId: number; topText: string; pickedText: string }[];
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

    // The analyzer sees the model's own logits: without the processor, greedy decoding generates
    // its top token at every step; with it, the steps where they differ are exactly those where
    // the model's top token was banned, and the analyzer still reports that banned token there.
    const topIds = (r: Result) => r.analysis.map((a) => a.data.topId[0]!);
    expect(plain.overrides).toEqual([]);
    expect(topIds(plain).slice(0, plain.ids.length)).toEqual(plain.ids);
    expect(withBan.overrides.length).toBeGreaterThan(0);
    expect(withBan.overrides.map((o) => o.step)).toEqual(
      topIds(withBan).flatMap((id, step) => (step < withBan.ids.length && banned.includes(id) ? [step] : [])),
    );
    for (const o of withBan.overrides) {
      expect(banned).toContain(o.topId);
      expect(banned).not.toContain(o.pickedId);
      expect(o.pickedId).toBe(withBan.ids[o.step]);
    }
    // The first generated token starts the name: the model wanted it, the processor replaced it.
    const first = withBan.overrides[0]!;
    expect(first.step).toBe(0);
    expect(first.topText).toMatch(/^ \p{Lu}/u);
    expect(name.startsWith(first.topText.trim())).toBe(true);
    expect(withBan.text.startsWith(first.pickedText)).toBe(true);
    const summary = (summarize as (r: Result) => string)(withBan);
    expect(summary).toContain(`generated the model's top token at ${withBan.ids.length - withBan.overrides.length} of ${withBan.ids.length} steps; a processor replaced it at step 0 (`);
    expect((summarize as (r: Result) => string)(plain)).toContain(`generated the model's top token at all ${plain.ids.length} steps`);
  });

  it('ban-tokens without a non-empty list of ids fails the request with an InvalidOptionsError naming the plugin, caused by its own', async () => {
    for (const options of [undefined, {}, { ids: [] }, { ids: [-1] }, { ids: ['Fern'] }]) {
      const error = await model.text({ prompt, maxTokens: 4, processors: [{ name: 'ban-tokens', options: options as never }] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      // The request's options were refused: the request's error, naming the plugin that refused them.
      expect(InvalidOptionsError.isInstance(error), JSON.stringify(options)).toBe(true);
      expect(error).toMatchObject({ option: 'processors[0]', message: expect.stringMatching(/ban-tokens needs options\.ids, a non-empty list of token ids.* \(example-compose\)$/) });
      expect(InvalidOptionsError.isInstance((error as Error).cause)).toBe(true);
    }
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
      expect(Number.isInteger(data.topId[0]) && data.topId[0]! >= 0 && data.topId[0]! < model.config.vocabSize).toBe(true);
    }
    expect((summarize as (r: Result) => string)(result)).toMatch(new RegExp(`^${result.steps} analysis events for ${result.steps} forward steps`));
  });

  it.skipIf(!built)('runs as a script (node index.mjs MODEL_DIR)', async () => {
    const script = fileURLToPath(new URL('../index.mjs', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [script, dir], { timeout: 30_000 });
    expect(stdout).toMatch(/== As the model writes it ==/);
    expect(stdout).toMatch(/== With ban-tokens keeping out \p{Lu}\p{L}+ ==/u);
    expect(stdout).toMatch(/analysis events for \d+ forward steps/);
    // Both components are visible: the plain run generates the model's top token throughout, the
    // second shows where ban-tokens replaced it (the name, at step 0).
    const [, first, second] = stdout.split(/^== .* ==$/m);
    expect(first).toMatch(/^-- generated the model's top token at all \d+ steps$/m);
    expect(second).toMatch(/^-- generated the model's top token at \d+ of \d+ steps; a processor replaced it at step 0 \(".+" → ".+"\)/m);
  });

  it.skipIf(!built)('as a script, refuses empty WORDs before loading anything', async () => {
    const script = fileURLToPath(new URL('../index.mjs', import.meta.url));
    const failed = await promisify(execFile)(process.execPath, [script, dir, ''], { timeout: 30_000 }).then(
      () => undefined,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(failed).toMatchObject({ code: 2, stdout: '', stderr: 'compose-pipeline: no word to ban: the WORDs after MODEL_DIR are empty\n' });
  });
});

describe('compose-pipeline exit codes', () => {
  const script = fileURLToPath(new URL('../index.mjs', import.meta.url));
  const fails = (args: string[]) =>
    promisify(execFile)(process.execPath, [script, ...args], { timeout: 30_000 }).then(
      () => undefined,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it.skipIf(!built)('as a script, exits 2 with one line for a model folder that does not exist or is no folder, as the weft CLI does', async () => {
    const missing = fileURLToPath(new URL('./no-such-model', import.meta.url));
    expect(await fails([missing])).toMatchObject({ code: 2, stdout: '', stderr: `compose-pipeline: Model folder ${missing} does not exist.\n` });
    const file = fileURLToPath(new URL('../../../models/story/config.json', import.meta.url));
    expect(await fails([file])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^compose-pipeline: [^\n]*is not a folder[^\n]*\n$/) });
  });

  it('gives 2 for the typed errors the caller fixes (model folder, options, prompt length), 1 for the others', async () => {
    const weft = (createRuntime as () => { load(dir: string): Promise<WeftModel>; dispose(): Promise<void> })();
    try {
      const loadError = await weft.load(fileURLToPath(new URL('./no-such-model', import.meta.url))).then(() => undefined, (e: unknown) => e);
      expect(exitCodeOf(loadError)).toBe(2);
      const model = await weft.load(storyModel);
      const optionError = await model.text({ prompt: 'Once', maxTokens: 0 }).then(() => undefined, (e: unknown) => e);
      expect(InvalidOptionsError.isInstance(optionError)).toBe(true);
      expect(exitCodeOf(optionError)).toBe(2);
      const overflow = await model.text({ inputIds: new Array(model.config.maxPositions).fill(1), maxTokens: 1 }).then(() => undefined, (e: unknown) => e);
      expect(ContextOverflowError.isInstance(overflow)).toBe(true);
      expect(exitCodeOf(overflow)).toBe(2);
    } finally {
      await weft.dispose();
    }
    expect(exitCodeOf(new BackendError('the session failed', { backend: 'node' }))).toBe(1);
    expect(exitCodeOf(new PluginError('example-compose', 'setup', 'broke'))).toBe(1);
    expect(exitCodeOf(new Error('a bug'))).toBe(1);
    expect(exitCodeOf('a string')).toBe(1);
    expect(errorLine(new Error('first line\n   second line\n'))).toBe('first line second line');
  });
});
