import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWeft, type WeftModel } from '@weft/core';
import { nodeBackend, NodeSession } from '@weft/backend-node';
import { BareGreedyLoop, benchPromptIds, InterruptedError, sdkGreedyRun } from '../src/index.js';
import { pairedDifference } from '../src/bench/run-bench.js';
import { cli, MODELS, storyModel } from './helpers.js';

it('pairedDifference takes the median of per-pair differences, not the difference of medians', () => {
  const run = (ttftMs: number, msPerToken = 1) => ({ ttftMs, msPerToken, tokensPerSecond: 1 });
  // The medians (1.1 and 3) differ by -1.9; the pairs differ by 0.1, 0.1 and -5.
  const weft = [run(1.1), run(3.1), run(0)];
  const bare = [run(1), run(3), run(5)];
  expect(pairedDifference(weft, bare, 'ttftMs')).toBeCloseTo(0.1, 9);
  expect(pairedDifference(weft, bare, 'msPerToken')).toBe(0);
  // Only whole pairs count.
  expect(pairedDifference([run(2), run(9)], [run(1)], 'ttftMs')).toBe(1);
});

describe.each(MODELS)('the bare onnxruntime loop against the SDK on $name', (testModel) => {
  const weft = createWeft({ plugins: [nodeBackend()] });
  let model: WeftModel;
  let bare: BareGreedyLoop;
  beforeAll(async () => {
    model = await weft.load(testModel.dir, { session: { intraOpNumThreads: 1 } });
    bare = await BareGreedyLoop.load(testModel.dir, { intraOpNumThreads: 1 });
  });
  afterAll(async () => {
    await bare.release();
    await weft.dispose();
  });

  it('produces the same greedy ids as the SDK for the same prompt', async () => {
    const prompt = model.tokenizer.encode('Once upon a time, there was a little girl named Lily.');
    const sdk = await sdkGreedyRun(model, [prompt], 40);
    expect(sdk.ids[0]!.length).toBeGreaterThan(10);
    const own = await bare.generate([prompt], sdk.ids[0]!.length);
    expect(own.ids).toEqual(sdk.ids);
    expect(own.tokenTimes).toHaveLength(sdk.ids[0]!.length);
  });

  it('matches the SDK for a batch of identical rows built from the bench prompt', async () => {
    const prompt = benchPromptIds(model.tokenizer, 16);
    expect(prompt).toHaveLength(16);
    const sdk = await sdkGreedyRun(model, [prompt, prompt], 24);
    const own = await bare.generate([prompt, prompt], sdk.ids[0]!.length);
    expect(own.ids).toEqual(sdk.ids);
    expect(own.ids[1]).toEqual(own.ids[0]);
  });

  it('weft bench --json reports medians for both loops and their ratio', async () => {
    const result = await cli(['bench', '--model', testModel.dir, '--threads', '1', '--json', '--tokens', '16', '--prompt-tokens', '8', '--runs', '2', '--warmup', '1']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout) as {
      idsMatch: boolean;
      tokens: number;
      threads: number;
      weft: { msPerToken: number; ttftMs: number; tokensPerSecond: number; runs: { ttftMs: number; msPerToken: number }[] };
      bare: { msPerToken: number; ttftMs: number; tokensPerSecond: number; runs: { ttftMs: number; msPerToken: number }[] };
      ratio: { msPerToken: number; ttftMs: number };
      added: { msPerToken: number; ttftMs: number };
      weftSetupMs: number;
      insideRun: Record<'weft' | 'bare', { prefillMs: number; stepMs: number }>;
      sharedSession: boolean;
      sameRuntime: boolean;
    };
    expect(report.idsMatch).toBe(true);
    expect(report.sharedSession).toBe(true);
    expect(report.sameRuntime).toBe(true);
    expect(report.threads).toBe(1);
    expect(report.tokens).toBe(16);
    for (const engine of [report.weft, report.bare]) {
      expect(engine.runs).toHaveLength(2);
      expect(engine.msPerToken).toBeGreaterThan(0);
      expect(engine.ttftMs).toBeGreaterThan(0);
      expect(engine.tokensPerSecond).toBeGreaterThan(0);
    }
    expect(report.ratio.msPerToken).toBeCloseTo(report.weft.msPerToken / report.bare.msPerToken, 2);
    // Two timed pairs: the median of two paired differences is their mean.
    const pairMean = (key: 'ttftMs' | 'msPerToken') => (report.weft.runs[0]![key] - report.bare.runs[0]![key] + report.weft.runs[1]![key] - report.bare.runs[1]![key]) / 2;
    expect(report.added.ttftMs).toBeCloseTo(pairMean('ttftMs'), 3);
    expect(report.added.msPerToken).toBeCloseTo(pairMean('msPerToken'), 3);
    expect(report.weftSetupMs).toBeGreaterThan(0);
    expect(report.weftSetupMs).toBeLessThan(report.weft.ttftMs);
    // Each run's time inside onnxruntime is part of the time to its token: so are the medians.
    for (const engine of ['weft', 'bare'] as const) {
      expect(report.insideRun[engine].prefillMs).toBeGreaterThan(0);
      expect(report.insideRun[engine].prefillMs).toBeLessThan(report[engine].ttftMs);
      expect(report.insideRun[engine].stepMs).toBeGreaterThan(0);
      expect(report.insideRun[engine].stepMs).toBeLessThanOrEqual(report[engine].msPerToken);
    }
  });

  it('generates exactly the requested tokens through EOS on both sides, with the same ids', async () => {
    // On models/story this prompt ends (EOS) after 22 new tokens when EOS is honoured.
    const prompt = benchPromptIds(model.tokenizer, 32);
    const sdk = await sdkGreedyRun(model, [prompt], 64);
    expect(sdk.ids[0]).toHaveLength(64);
    const bareRun = await bare.generate([prompt], 64);
    expect(bareRun.ids).toEqual(sdk.ids);
    // One time inside the run per step, for both loops.
    expect(sdk.runMs).toHaveLength(64);
    expect(bareRun.runMs).toHaveLength(64);
    expect([...sdk.runMs, ...bareRun.runMs].every((ms) => ms > 0)).toBe(true);
    if (testModel.dir === storyModel) expect(sdk.ids[0]!.slice(0, -1).some((id) => model.generationConfig.eosTokenIds.includes(id))).toBe(true);
  });

  it('runs on a session lent by Weft and leaves it open on release', async () => {
    expect(model.session).toBeInstanceOf(NodeSession);
    const lent = await BareGreedyLoop.onSession(testModel.dir, (model.session as NodeSession).ortSession);
    const prompt = benchPromptIds(model.tokenizer, 12);
    const sdk = await sdkGreedyRun(model, [prompt], 12);
    expect((await lent.generate([prompt], sdk.ids[0]!.length)).ids).toEqual(sdk.ids);
    await lent.release();
    // Weft's session still runs: the lent loop did not release it.
    expect((await sdkGreedyRun(model, [prompt], 12)).ids).toEqual(sdk.ids);
  });

  it('rejects a prompt and output longer than the context with exit code 2', async () => {
    const result = await cli(['bench', '--model', testModel.dir, '--tokens', String(testModel.context), '--prompt-tokens', '32']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`exceed the model's context of ${testModel.context} tokens`));
  });
});

describe('weft bench input checks and interrupts', () => {
  it('rejects a prompt far beyond the context at once, before building it', async () => {
    const started = performance.now();
    const result = await cli(['bench', '--model', storyModel, '--prompt-tokens', '100000', '--tokens', '2']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^weft: --prompt-tokens 100000 \+ --tokens 2 exceed the model's context of \d+ tokens\.\n$/);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('builds a long bench prompt in linear time and stops building it when aborted', () => {
    let calls = 0;
    const tokenizer = { encode: (text: string) => (calls++, Array.from({ length: Math.floor(text.length / 4) }, (_, i) => i)) };
    expect(benchPromptIds(tokenizer as never, 50_000)).toHaveLength(50_000);
    expect(calls).toBeLessThanOrEqual(3);
    expect(() => benchPromptIds(tokenizer as never, 10, AbortSignal.abort())).toThrow(InterruptedError);
  });

  it('stops within a run on Ctrl-C and exits 130 without a report', async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 300);
    const result = await cli(['bench', '--model', storyModel, '--tokens', '900', '--prompt-tokens', '32', '--runs', '100'], { signal: controller.signal });
    expect(result.code).toBe(130);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('weft: interrupted\n');
    expect(performance.now() - started).toBeLessThan(3000);
  });
});

describe('weft bench with the SDK on another backend', () => {
  it('gives the bare loop its own session and says so', async () => {
    const dir = MODELS[0]!.dir;
    const result = await cli(['bench', '--model', dir, '--backend', 'web', '--tokens', '8', '--prompt-tokens', '8', '--runs', '2', '--warmup', '1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/model .* \(web, 1 intra-op thread\)/);
    expect(result.stdout).toContain('separate sessions: a run after the other loop starts with cold weights');
    expect(result.stdout).toMatch(/token ids: identical in every run of both loops/);
    // The difference is the runtimes' as much as the loops': it is not presented as what weft adds.
    expect(result.stdout).not.toMatch(/^weft adds/m);
    expect(result.stdout).toMatch(/^weft - bare: -?\d+ µs to the first token and -?[\d.]+ µs per token \(medians of paired differences\)\n {2}not what weft adds: the two sides run on different runtimes \(weft on the web backend, the bare loop on onnxruntime-node\); --backend node measures weft's own cost$/m);
    const json = await cli(['bench', '--model', dir, '--backend', 'web', '--tokens', '4', '--prompt-tokens', '4', '--runs', '2', '--warmup', '0', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ backend: 'web', sharedSession: false, sameRuntime: false, added: { ttftMs: expect.any(Number), msPerToken: expect.any(Number) } });
  });
});

describe('the bare loop on an Optimum merged decoder', () => {
  it('feeds use_cache_branch and matches the SDK', async () => {
    const dir = fileURLToPath(new URL('../../core/test/fixtures/tiny-merged', import.meta.url));
    const weft = createWeft({ plugins: [nodeBackend()] });
    const bare = await BareGreedyLoop.load(dir, { intraOpNumThreads: 1 });
    try {
      const model = await weft.load(dir, { session: { intraOpNumThreads: 1 } });
      const prompt = model.tokenizer.encode('Once upon a time, there was a little fox named');
      const sdk = await sdkGreedyRun(model, [prompt, prompt], 12);
      expect((await bare.generate([prompt, prompt], 12)).ids).toEqual(sdk.ids);
    } finally {
      await bare.release();
      await weft.dispose();
    }
  });
});
