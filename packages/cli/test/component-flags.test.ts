/**
 * `weft generate --processor / --sampler / --analyzer`: registry entries by name, the bundled
 * ones or a `--plugin`'s, on the real models/story model.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '@weft/backend-node';
import { createWeft } from '@weft/core';
import { attentionRouters } from '@weft/plugin-attention';
import { cli, storyModel } from './helpers.js';

/**
 * A plugin (a plain manifest, as a published one may be) with a logits processor and samplers.
 * Its components reject bad options as docs/plugins.md says, with an InvalidOptionsError: the one
 * its own copy of @weft/core would throw (core knows its errors across copies by a registered
 * symbol and their code; this module has no @weft/core to import).
 */
const PLUGIN = `
const invalidOptions = (message) =>
  Object.assign(new Error(message), { name: 'InvalidOptionsError', code: 'invalid-options', [Symbol.for('@weft/core/WeftError')]: true });
export default {
  name: 'weft-plugin-component-flags', version: '1.0.0', apiVersion: '^0.1.0',
  setup(ctx) {
    // Bans one token id: its logit becomes -Infinity.
    ctx.register('logits-processor', {
      name: 'ban',
      create: (options = {}) => {
        if (!Number.isInteger(options.id)) throw invalidOptions('ban needs id=N');
        return { name: 'ban', process: (logits) => void (logits[options.id] = -Infinity) };
      },
    });
    // A sampler whose options are checked, as docs/plugins.md's top-k-dice checks them.
    ctx.register('sampler', {
      name: 'dice',
      create: (options = {}) => {
        if (!Number.isInteger(options.k) || options.k < 1) throw invalidOptions('dice: options.k must be a whole number >= 1');
        return { name: 'dice', sample: () => 0 };
      },
    });
    // Reports each step's argmax as a one-element Float32Array (a typed array, as analyzers often return).
    ctx.register('analyzer', {
      name: 'top-logit',
      create: () => ({
        name: 'top-logit',
        observe: ({ logits }) => {
          const row = logits[0];
          let best = 0;
          for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
          return Float32Array.of(best);
        },
      }),
    });
    // Picks the most likely token that is not the most likely one.
    ctx.register('sampler', {
      name: 'second-best',
      create: () => ({
        name: 'second-best',
        sample: (logits) => {
          let best = 0;
          for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
          let second = best === 0 ? 1 : 0;
          for (let i = 0; i < logits.length; i++) if (i !== best && logits[i] > logits[second]) second = i;
          return second;
        },
      }),
    });
  },
};
`;

let dir: string;
let plugin: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-component-flags-'));
  plugin = join(dir, 'components.mjs');
  await writeFile(plugin, PLUGIN);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Greedy without a sampler (--temperature 0); a sampler takes the place of temperature. */
const PROMPT = ['--prompt', 'Once upon a time', '--max-tokens', '12', '--json'];
const GREEDY = [...PROMPT, '--temperature', '0'];
const doneOf = async (argv: string[]) => {
  const run = await cli(['generate', '--model', storyModel, ...argv]);
  expect(run.code, run.stderr).toBe(0);
  return run.json().find((l) => l['type'] === 'done') as { ids: number[] };
};

describe('weft generate --processor, --sampler and --analyzer', () => {
  it('--processor applies a plugin\'s logits processor with its options', async () => {
    const plain = await doneOf(GREEDY);
    const banned = plain.ids[0]!;
    const without = await doneOf(['--plugin', plugin, '--processor', `ban:id=${banned}`, ...GREEDY]);
    expect(without.ids).not.toContain(banned);
    expect(without.ids).toHaveLength(12);
  });

  it('--sampler picks every token with a plugin\'s sampler', async () => {
    const plain = await doneOf(GREEDY);
    const second = await doneOf(['--plugin', plugin, '--sampler', 'second-best', ...PROMPT]);
    expect(second.ids[0]).not.toBe(plain.ids[0]);
    // Banning the second-best first token makes the sampler take the next one down.
    const third = await doneOf(['--plugin', plugin, '--sampler', 'second-best', '--processor', `ban:id=${second.ids[0]}`, ...PROMPT]);
    expect(third.ids[0]).not.toBe(second.ids[0]);
    expect(third.ids[0]).not.toBe(plain.ids[0]);
  });

  it('--analyzer attention-importance loads the attention graph and gives --router hybrid what the SDK gives it', async () => {
    const fromCli = await doneOf(['--router', 'hybrid:budget=12', '--analyzer', 'attention-importance', '--prompt', 'Once upon a time', '--max-tokens', '24', '--temperature', '0', '--json']);
    const weft = createWeft({ plugins: [nodeBackend(), attentionRouters()] });
    try {
      const model = await weft.load(storyModel, { onnxFile: 'onnx/model_with_attentions.onnx' });
      const events = await lastValueFrom(
        model.generate({ prompt: 'Once upon a time', maxTokens: 24, temperature: 0, router: { name: 'hybrid', options: { budget: 12 } }, analyzers: ['attention-importance'] }).pipe(toArray()),
      );
      const done = events.find((e) => e.type === 'done');
      expect(done?.type === 'done' ? done.rows[0]!.ids : undefined).toEqual(fromCli.ids);
    } finally {
      await weft.dispose();
    }
  });

  it('--json prints what an analyzer returns: router-decisions shows each eviction, typed arrays come out as arrays', async () => {
    const run = await cli(['generate', '--model', storyModel, '--plugin', plugin, '--router', 'heavy-hitter:budget=8', '--analyzer', 'router-decisions', '--analyzer', 'top-logit', ...GREEDY]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.json();
    const decisions = lines.filter((l) => l['type'] === 'analysis' && l['analyzer'] === 'router-decisions').map((l) => l['data'] as { router: string; evicted: number; kept: number });
    expect(decisions.length).toBeGreaterThan(0);
    expect(decisions.every((d) => d.router === 'heavy-hitter')).toBe(true);
    expect(decisions.some((d) => d.evicted > 0 && d.kept === 8)).toBe(true);
    const tops = lines.filter((l) => l['analyzer'] === 'top-logit').map((l) => l['data']);
    expect(tops).toHaveLength(12);
    // The analyzer sees the raw logits of each step: greedy decoding picks exactly their argmax.
    const ids = (lines.find((l) => l['type'] === 'done') as { ids: number[] }).ids;
    expect(tops.map((t) => (t as number[])[0])).toEqual(ids);
    // Lines come in order: analysis of a step before its token.
    expect(lines.findIndex((l) => l['analyzer'] === 'top-logit')).toBeLessThan(lines.findIndex((l) => l['type'] === 'token'));
  });

  it.each([
    // An unknown name: the flag first, then the closest registered names and all of them.
    [['--processor', 'nope'], /^weft: --processor: unknown processor "nope"; none are registered \(a --plugin can add one\)\n$/],
    [['--sampler', 'nope'], /^weft: --sampler: unknown sampler "nope"; none are registered \(a --plugin can add one\)\n$/],
    [['--analyzer', 'nope'], /^weft: --analyzer: unknown analyzer "nope" \(router-decisions, attention-importance\)\n$/],
    [['--analyzer', 'router-decision'], /^weft: --analyzer: unknown analyzer "router-decision"; did you mean router-decisions\? \(router-decisions, attention-importance\)\n$/],
    [['--plugin', 'PLUGIN', '--processor', 'bann:id=3'], /^weft: --processor: unknown processor "bann"; did you mean ban\? \(ban\)\n$/],
    [['--plugin', 'PLUGIN', '--sampler', 'dise'], /^weft: --sampler: unknown sampler "dise"; did you mean dice\? \(.*dice.*\)\n$/],
    [['--processor', 'bad name!'], /^weft: --processor: "bad name!" must look like NAME or NAME:key=value/],
    // A component that rejects the options its flag gave it: the line starts with that flag.
    [['--plugin', 'PLUGIN', '--processor', 'ban'], /^weft: --processor: ban needs id=N \(weft-plugin-component-flags\)\n$/],
    [['--plugin', 'PLUGIN', '--sampler', 'dice:k=0'], /^weft: --sampler: dice: options\.k must be a whole number >= 1 \(weft-plugin-component-flags\)\n$/],
    [['--analyzer', 'attention-importance:x=1'], /^weft: --analyzer: Analyzer "attention-importance" takes no options \(got x\)\. \(@weft\/plugin-attention\)\n$/],
    [['--analyzer', 'attention-importance', '--onnx-file', 'onnx/model.onnx'], /^weft: --analyzer: "attention-importance" needs attention probabilities/],
  ])('refuses %j with one line and exit code 2', async (flags, message) => {
    const run = await cli(['generate', '--model', storyModel, ...flags.map((f) => (f === 'PLUGIN' ? plugin : f)), '--prompt', 'Tom', '--max-tokens', '2']);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.code).toBe(2);
  });
});
