/**
 * What `weft generate` and `weft demo` say when a plugin fails during a request, and the notes
 * they print about flags that change nothing in text mode (analyzers) or under greedy decoding
 * (sampling filters), on the real models/story model.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ContextOverflowError, InvalidOptionsError, ModelLoadError, PluginError } from '@weft/core';
import { parseGenerateArgs } from '../src/args/generate-args.js';
import { parseMessages } from '../src/args/prompt-source.js';
import { DEMO_PROMPT } from '../src/commands/demo.js';
import { debugStacks, EXIT, exitCodeOf, UsageError } from '../src/errors.js';
import { samplingNote } from '../src/output/sampling-note.js';
import { cli, storyModel } from './helpers.js';

/**
 * A plugin (a plain manifest: the module has no @weft/core to import) whose hook throws a
 * TypeError, as a plugin's bug does, once `fail=N` tokens are out; a logits processor that throws;
 * one that pushes end-of-sequence (id 2 on models/story) to the top unless it is banned; and an
 * analyzer that returns the step.
 */
const PLUGIN = `
export default (options = {}) => ({
  name: 'acme-throwing-hook', version: '1.0.0', apiVersion: '^0.1.0',
  setup(ctx) {
    if (options.fail !== undefined) {
      ctx.addHooks({
        afterToken: ({ step }) => {
          const state = step >= options.fail ? undefined : { x: 1 };
          return state.x;
        },
      });
    }
    ctx.register('logits-processor', { name: 'acme-broken', create: () => ({ name: 'acme-broken', process: () => { throw new RangeError('the table has no row 7'); } }) });
    ctx.register('logits-processor', {
      name: 'acme-eos',
      create: () => ({ name: 'acme-eos', process: (logits) => { if (logits[2] !== -Infinity) logits[2] = 1e9; } }),
    });
    ctx.register('analyzer', { name: 'acme-step', create: () => ({ name: 'acme-step', observe: ({ step }) => step }) });
  },
});
`;

let dir: string;
let plugin: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-request-failures-'));
  plugin = join(dir, 'acme.mjs');
  await writeFile(plugin, PLUGIN);
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(() => void vi.unstubAllEnvs());

const PROMPT = 'Once upon a time';
const generate = (args: string[], tty?: boolean) =>
  cli(['generate', '--model', storyModel, '--threads', '1', '--prompt', PROMPT, '--temperature', '0', ...args], tty === undefined ? {} : { tty });
const HOOK_FAILS = /^weft: Plugin "acme-throwing-hook" failed in afterToken: .*\n$/;

describe('a plugin that fails in the middle of the text', () => {
  it('on a terminal, ends the text\'s line before the error; off it, leaves stdout byte for byte', async () => {
    const onTerminal = await generate(['--plugin', `${plugin}:fail=3`, '--max-tokens', '10'], true);
    expect(onTerminal.code).toBe(EXIT.failure);
    expect(onTerminal.stderr).toMatch(HOOK_FAILS);
    expect(onTerminal.stdout).toMatch(/^[^\n]+\n$/);
    const piped = await generate(['--plugin', `${plugin}:fail=3`, '--max-tokens', '10'], false);
    expect(piped.code).toBe(EXIT.failure);
    expect(piped.stderr).toMatch(HOOK_FAILS);
    expect(piped.stdout).toBe(onTerminal.stdout.slice(0, -1));
    expect(piped.stdout).not.toMatch(/\n$/);
  });

  it('does the same in weft demo, whose story starts with its prompt', async () => {
    const args = ['demo', '--model', storyModel, '--threads', '1', '--seed', '1', '--plugin', `${plugin}:fail=3`];
    const onTerminal = await cli(args, { tty: true });
    expect(onTerminal.code).toBe(EXIT.failure);
    expect(onTerminal.stdout.startsWith(DEMO_PROMPT)).toBe(true);
    expect(onTerminal.stdout).toMatch(/^[^\n]+\n$/);
    expect(onTerminal.stderr).toMatch(HOOK_FAILS);
    const piped = await cli(args, { tty: false });
    expect(piped.stdout).toBe(onTerminal.stdout.slice(0, -1));
  });

  it('exits 1, the plugin\'s own bug, for a hook or a processor that throws', async () => {
    const broken = await generate(['--plugin', plugin, '--processor', 'acme-broken', '--max-tokens', '3']);
    expect(broken.code).toBe(EXIT.failure);
    expect(broken.stderr).toMatch(/^weft: Plugin "acme-throwing-hook" failed in .*the table has no row 7.*\n$/);
  });

  it('prints with WEFT_DEBUG=1 the stack of what the plugin threw, after the error\'s own', async () => {
    vi.stubEnv('WEFT_DEBUG', '1');
    const run = await generate(['--plugin', `${plugin}:fail=2`, '--max-tokens', '10', '--json']);
    expect(run.code).toBe(EXIT.failure);
    const [line, ...stack] = run.stderr.trimEnd().split('\n');
    expect(line).toMatch(/^weft: Plugin "acme-throwing-hook" failed in afterToken/);
    expect(stack[0]).toMatch(/^PluginError: Plugin "acme-throwing-hook" failed in afterToken/);
    const cause = stack.findIndex((l) => l.startsWith('Caused by: TypeError: '));
    expect(cause).toBeGreaterThan(0);
    expect(stack.slice(cause).join('\n')).toContain('acme.mjs');
  });
});

describe('exitCodeOf', () => {
  it('is 1 for a PluginError caused by a plugin\'s own bug, 2 for one caused by bad input', () => {
    const plugin = (cause?: unknown) => new PluginError('acme', 'afterToken', 'failed', cause === undefined ? {} : { cause });
    expect(exitCodeOf(plugin(new TypeError('cannot read x of undefined')))).toBe(EXIT.failure);
    expect(exitCodeOf(plugin())).toBe(EXIT.failure);
    expect(exitCodeOf(plugin(new InvalidOptionsError('bad', { option: 'analyzers' })))).toBe(EXIT.usage);
    expect(exitCodeOf(plugin(new ModelLoadError('no graph')))).toBe(EXIT.usage);
    expect(exitCodeOf(plugin(new ContextOverflowError('too long', { promptTokens: 2000, contextLength: 1024 })))).toBe(EXIT.usage);
    // A plugin that could not be installed is a --plugin usage error, as before.
    expect(exitCodeOf(new UsageError('--plugin ./x.mjs: failed in setup', { cause: plugin(new Error('x')) }))).toBe(EXIT.usage);
    expect(exitCodeOf(new InvalidOptionsError('bad'))).toBe(EXIT.usage);
  });
});

describe('debugStacks', () => {
  it('gives the error\'s stack and that of the innermost cause that is not Weft\'s, bounded on a cycle', () => {
    const thrown = new TypeError('cannot read x of undefined');
    const error = new UsageError('--plugin x', { cause: new PluginError('acme', 'setup', 'failed', { cause: new Error('wrapper', { cause: thrown }) }) });
    const text = debugStacks(error);
    expect(text.startsWith(error.stack!)).toBe(true);
    expect(text).toContain(`Caused by: ${thrown.stack!}`);
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(debugStacks(a)).toContain('Caused by: Error: b');
    expect(debugStacks(new InvalidOptionsError('only Weft'))).not.toContain('Caused by');
  });

  it('never throws on a hostile error, and cuts a huge stack (it used to crash the CLI under WEFT_DEBUG)', () => {
    const boom = (): never => {
      throw new Error('getter boom');
    };
    const hostileCause = Object.defineProperty(new Error('outer'), 'cause', { get: boom });
    const hostileStack = Object.defineProperty(new Error('inner'), 'stack', { get: boom });
    const hostileProxy = new Proxy({}, { getPrototypeOf: boom });
    for (const error of [hostileCause, new PluginError('acme', 'hook', 'failed', { cause: hostileStack }), new PluginError('acme', 'hook', 'failed', { cause: hostileProxy }), hostileProxy]) {
      expect(() => debugStacks(error)).not.toThrow();
    }
    expect(debugStacks(new PluginError('acme', 'hook', 'failed', { cause: hostileStack }))).toContain('Caused by: Error: inner');
    const huge = new Error('huge');
    huge.stack = 'x'.repeat(1_000_000);
    const text = debugStacks(new PluginError('acme', 'hook', 'failed', { cause: huge }));
    expect(text.length).toBeLessThan(200_000);
    expect(text).toContain('…(934464 more characters)');
  });
});

describe('--min-tokens', () => {
  it('holds end-of-sequence back for N tokens', async () => {
    expect(parseGenerateArgs(['--prompt', 'a', '--min-tokens', '4']).request.minTokens).toBe(4);
    const done = async (args: string[]) => {
      const run = await generate(['--plugin', plugin, '--processor', 'acme-eos', '--max-tokens', '8', '--json', ...args]);
      expect(run.code, run.stderr).toBe(0);
      return run.json().find((l) => l['type'] === 'done') as { ids: number[]; finishReason: string };
    };
    const early = await done([]);
    expect(early.ids.length).toBeLessThanOrEqual(1);
    const held = await done(['--min-tokens', '4']);
    expect(held.ids.length).toBeGreaterThanOrEqual(4);
    expect(held.ids.slice(0, 4)).not.toContain(2);
  });
});

describe('notes', () => {
  it('says once, in text mode, that analyzer output is printed only with --json', async () => {
    const text = await generate(['--plugin', plugin, '--analyzer', 'acme-step', '--max-tokens', '4']);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^weft: note: --analyzer output \(\d+ from acme-step\) is printed only with --json, as \{"type":"analysis",\.\.\.\} lines$/);
    const json = await generate(['--plugin', plugin, '--analyzer', 'acme-step', '--max-tokens', '4', '--json']);
    expect(json.stderr).toBe('');
    expect(json.json().filter((l) => l['type'] === 'analysis').length).toBeGreaterThan(0);
  });

  it('says when --top-k, --top-p or --min-p change nothing because decoding is greedy', async () => {
    // models/story's generation_config.json does not sample.
    const base = ['generate', '--model', storyModel, '--threads', '1', '--prompt', PROMPT, '--max-tokens', '2', '--json'];
    const greedy = await cli([...base, '--top-k', '5']);
    expect(greedy.code).toBe(0);
    expect(greedy.stderr).toBe(
      "weft: note: --top-k has no effect without --temperature > 0 (greedy decoding); the model's generation_config.json does not sample, so add --temperature T (e.g. --temperature 0.8) to sample\n",
    );
    const zero = await cli([...base, '--temperature', '0', '--top-p', '0.9', '--min-p', '0.1']);
    expect(zero.stderr).toBe('weft: note: --top-p and --min-p have no effect with --temperature 0 (greedy decoding)\n');
    expect((await cli([...base, '--temperature', '0.7', '--top-k', '5'])).stderr).toBe('');
    expect((await cli(base)).stderr).toBe('');
  });

  it('says nothing when the model\'s defaults sample', () => {
    expect(samplingNote({ topK: 5 }, { doSample: true, temperature: 0.7 })).toBeUndefined();
    // --top-k 0 already means off.
    expect(samplingNote({ topK: 0 }, { doSample: false, temperature: undefined })).toBeUndefined();
    expect(samplingNote({ topK: 0, topP: 0.5 }, { doSample: false, temperature: undefined })).toMatch(/^weft: note: --top-p has no effect/);
    expect(samplingNote({ topK: 5 }, { doSample: true, temperature: undefined })).toBeUndefined();
    expect(samplingNote({ topK: 5 }, { doSample: true, temperature: 0 })).toMatch(/--top-k has no effect/);
    expect(samplingNote({ topK: 5 }, { doSample: false, temperature: 0.7 })).toMatch(/--top-k has no effect/);
    expect(samplingNote({ topK: 5, topP: 0.5, minP: 0.1 }, { doSample: false, temperature: undefined })).toMatch(/^weft: note: --top-k, --top-p and --min-p have no effect/);
  });
});

describe('--messages batches', () => {
  it('a batch of one conversation is that conversation; more than one is refused', () => {
    expect(parseMessages('[[{"role":"user","content":"Hi"}]]')).toEqual([{ role: 'user', content: 'Hi' }]);
    expect(() => parseMessages('[[{"role":"user","content":"Hi"}],[{"role":"user","content":"Yo"}]]')).toThrow(/a batch of 2 conversations/);
  });
});
