import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWeft, type WeftModel } from '@weft/core';
import { nodeBackend, NodeSession } from '@weft/backend-node';
import { BareGreedyLoop, benchPromptIds, sdkGreedyRun } from '../src/index.js';
import { cli, MODELS } from './helpers.js';

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
      generatedTokens: number;
      threads: number;
      weft: { msPerToken: number; ttftMs: number; tokensPerSecond: number; runs: unknown[] };
      bare: { msPerToken: number; ttftMs: number; tokensPerSecond: number; runs: unknown[] };
      ratio: { msPerToken: number; ttftMs: number };
      weftSetupMs: number;
      sharedSession: boolean;
    };
    expect(report.idsMatch).toBe(true);
    expect(report.sharedSession).toBe(true);
    expect(report.threads).toBe(1);
    expect(report.generatedTokens).toBeGreaterThan(1);
    for (const engine of [report.weft, report.bare]) {
      expect(engine.runs).toHaveLength(2);
      expect(engine.msPerToken).toBeGreaterThan(0);
      expect(engine.ttftMs).toBeGreaterThan(0);
      expect(engine.tokensPerSecond).toBeGreaterThan(0);
    }
    expect(report.ratio.msPerToken).toBeCloseTo(report.weft.msPerToken / report.bare.msPerToken, 2);
    expect(report.weftSetupMs).toBeGreaterThan(0);
    expect(report.weftSetupMs).toBeLessThan(report.weft.ttftMs);
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

describe('weft bench with the SDK on another backend', () => {
  it('gives the bare loop its own session and says so', async () => {
    const dir = MODELS[0]!.dir;
    const result = await cli(['bench', '--model', dir, '--backend', 'web', '--tokens', '8', '--prompt-tokens', '8', '--runs', '2', '--warmup', '1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/model .* \(web, 1 intra-op thread\)/);
    expect(result.stdout).toContain('separate sessions: a run after the other loop starts with cold weights');
    expect(result.stdout).toMatch(/token ids: identical in every run of both loops/);
  });
});
