import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipedInput } from '../src/chat/input-lines.js';
import { CHAT_OPTIONS } from '../src/args/chat-args.js';
import { USAGE } from '../src/usage.js';
import { chat, chatTurns, generateMessages } from './chat-helpers.js';
import { cli, storyModel } from './helpers.js';

interface Done {
  type: 'done';
  turn: number;
  text: string;
  ids: number[];
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  droppedTurns: number;
}

const dones = (records: Record<string, unknown>[]) => records.filter((r) => r['type'] === 'done') as unknown as Done[];


describe('weft chat, piped', () => {
  it('keeps the conversation: turn 2 is rendered with turn 1 and its reply, as generate --messages renders them', async () => {
    const result = await chat(['--json', '--max-tokens', '12', '--system', 'Be kind.'], { stdin: 'Tell me about a cat.\nWhat was its name?\n' });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const records = result.records();
    const [first, second] = dones(records);
    expect(dones(records)).toHaveLength(2);
    expect([first!.turn, second!.turn]).toEqual([1, 2]);
    // Every record carries its turn, in order.
    const end = records.indexOf(first as never);
    expect(records.map((r) => r['turn'])).toEqual(records.map((_, i) => (i <= end ? 1 : 2)));
    // The history grew by the first exchange (the message and the reply's tokens at least).
    expect(second!.promptTokens).toBeGreaterThan(first!.promptTokens + first!.completionTokens);
    // Exactly what one request with the whole conversation gives (greedy: the same tokens).
    const expected = await generateMessages(
      [{ role: 'system', content: 'Be kind.' }, ...chatTurns('Tell me about a cat.', first!.text, 'What was its name?')],
      '--max-tokens',
      '12',
    );
    expect(second!.promptTokens).toBe(expected.promptTokens);
    expect(second!.ids).toEqual(expected.ids);
  });

  it('prints the replies one after another, a line break after each, with a stats line per reply on stderr', async () => {
    const json = await chat(['--json', '--max-tokens', '6'], { stdin: 'Hi\nTell me a story.' });
    const texts = dones(json.records()).map((d) => d.text);
    expect(texts).toHaveLength(2);
    // The last line needs no line break; empty and blank lines are skipped.
    const result = await chat(['--max-tokens', '6'], { stdin: '\nHi\n   \n\r\nTell me a story.' });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${texts[0]}\n${texts[1]}\n`);
    // The second reply took the first exchange from the session's prompt cache.
    expect(result.stderr).toMatch(/^\[6 tokens, [\d.]+ tokens\/s, .*finish length\]\n\[6 tokens, .*finish length, \d+ prompt tokens cached\]\n$/);
  });

  it('/reset forgets the conversation: the same message then renders as it did first', async () => {
    const result = await chat(['--json', '--max-tokens', '5'], { stdin: 'Hi\nTell me more.\n/reset\nHi\n' });
    expect(result.code).toBe(0);
    const [first, second, third] = dones(result.records());
    expect(second!.promptTokens).toBeGreaterThan(first!.promptTokens);
    expect(third!.turn).toBe(3);
    expect(third!.promptTokens).toBe(first!.promptTokens);
    expect(third!.ids).toEqual(first!.ids);
    expect(result.records().find((r) => r['type'] === 'reset')).toEqual({ type: 'reset', turn: 2 });
  });

  it('drops the oldest turns (never the system message) when the conversation outgrows the context, and says so', async () => {
    // About 400 tokens a message: two fit the story model's 1024 positions, three do not.
    const long = (what: string) => Array.from({ length: 25 }, () => `The little ${what} ran to the park and played with a red ball.`).join(' ');
    const lines = [long('dog'), long('cat'), long('bird')];
    const system = 'Be kind.';
    const result = await chat(['--json', '--max-tokens', '8', '--system', system], { stdin: `${lines.join('\n')}\n` });
    expect(result.code).toBe(0);
    const [one, two, three] = dones(result.records());
    expect([one!.droppedTurns, two!.droppedTurns, three!.droppedTurns]).toEqual([0, 0, 1]);
    expect(result.stderr).toContain('weft: note: the conversation outgrew the context (1024 tokens, 8 kept for the reply): the oldest turn was dropped, 1 kept\n');
    expect(three!.promptTokens + 8).toBeLessThanOrEqual(1024);
    // Turn 3 was sent as the system message, turn 2 and the new message: turn 1 is gone.
    const expected = await generateMessages(
      [{ role: 'system', content: system }, ...chatTurns(lines[1]!, two!.text, lines[2]!)],
      '--max-tokens',
      '8',
    );
    expect(three!.promptTokens).toBe(expected.promptTokens);
    expect(three!.ids).toEqual(expected.ids);
  });

  it('reports a message too long to fit even alone, sends nothing for it, and goes on (exit code 2 at the end)', async () => {
    const huge = Array.from({ length: 120 }, () => 'The little dog ran to the park and played with a red ball.').join(' ');
    const result = await chat(['--json', '--max-tokens', '8'], { stdin: `Hi\n${huge}\nHi again\n` });
    expect(result.code).toBe(2);
    const records = result.records();
    const error = records.find((r) => r['type'] === 'error');
    expect(error).toMatchObject({ type: 'error', turn: 2, message: expect.stringMatching(/^this message takes \d+ tokens, but the model's context of 1024 holds 1016 once 8 are kept for the reply; it was not sent/) });
    expect(result.stderr).toMatch(/^weft: turn 2: this message takes \d+ tokens, .* it was not sent \(shorten it\)\n$/);
    const [first, third] = dones(records);
    expect(third!.turn).toBe(3);
    // The refused message left no trace: turn 3 follows turn 1 directly.
    const expected = await generateMessages(
      chatTurns('Hi', first!.text, 'Hi again'),
      '--max-tokens',
      '8',
    );
    expect(third!.promptTokens).toBe(expected.promptTokens);
  });

  it('ends with exit code 0 at the end of the input, also when it holds no message', async () => {
    for (const stdin of ['', '\n\n', '/exit\nHi\n']) {
      const result = await chat(['--max-tokens', '4'], { stdin });
      expect({ stdin, code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({ stdin, code: 0, stdout: '', stderr: '' });
    }
  });

  it('skips a line that is not UTF-8 or an unknown /command with one line each, and ends with exit code 2', async () => {
    const bytes = Buffer.concat([Buffer.from('/nope\n'), Buffer.from([0x48, 0xff, 0x0a]), Buffer.from('Hi\n')]);
    const result = await chat(['--max-tokens', '3'], { stdin: bytes });
    expect(result.code).toBe(2);
    const lines = result.stderr.split('\n');
    expect(lines[0]).toBe('weft: unknown command "/nope"; /help lists them (write //… to send a message that starts with "/")');
    expect(lines[1]).toBe('weft: line 2 of standard input is not valid UTF-8 (first bad byte at offset 1); convert it to UTF-8 first (it was skipped)');
    expect(lines[2]).toMatch(/^\[3 tokens, /);
    expect(result.stdout.split('\n')).toHaveLength(2);
  });

  it('refuses bad flags before loading anything, as generate does', async () => {
    for (const [args, message] of [
      [['--temperature=-1'], /^weft: --temperature must be a number >= 0/],
      [['--system', ' '], /^weft: --system is empty/],
      [['--prompt', 'Hi'], /^weft: unknown option --prompt/],
      [['hello'], /^weft: unexpected argument "hello" \(weft chat reads its messages from standard input, one per line\)/],
      [['--json', '--raw'], /^weft: --raw applies to the text output/],
    ] as const) {
      const result = await chat(args, { stdin: 'Hi\n' });
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
      expect(result.stderr.split('\n')).toHaveLength(2);
    }
  });

  it('ends at the first message when core refuses a flag (a bad --kv, an unknown --processor), which every turn would repeat', async () => {
    for (const [args, message] of [
      [['--kv', 'int4:group=0'], /^weft: --kv: Bad value 0 for "group"/],
      [['--processor', 'nope'], /^weft: --processor: unknown processor "nope"/],
    ] as const) {
      const result = await chat([...args, '--max-tokens', '4'], { stdin: 'Hi\nThere\n' });
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      // One line, not one per turn.
      expect(result.stderr).toMatch(message);
      expect(result.stderr.split('\n')).toHaveLength(2);
    }
  });
});

/** A plugin whose afterToken hook throws at the third token of the second request (a flaky plugin). */
const FLAKY_PLUGIN = `
let runs = 0;
export default {
  name: 'weft-plugin-flaky', version: '1.0.0', apiVersion: '^0.1.0',
  setup(ctx) {
    ctx.addHooks({
      beforeForward: ({ step }) => { if (step === 0) runs++; },
      afterToken: ({ step }) => { if (runs === 2 && step === 2) throw new Error('flaky at the third token'); },
    });
  },
};
`;

describe('weft chat when a plugin fails during a reply', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-chat-flaky-'));
    // One file per test: a module is imported once per process, its run count with it.
    await writeFile(join(dir, 'flaky.mjs'), FLAKY_PLUGIN);
    await writeFile(join(dir, 'flaky-text.mjs'), FLAKY_PLUGIN);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const turns = 'Tell me about a cat.\nWhat was its name?\nAnd then what happened?\n';

  it('reports the failed turn, leaves it out of the conversation and goes on; exit code 1 at the end', async () => {
    const result = await chat(['--json', '--temperature', '0', '--max-tokens', '8', '--plugin', join(dir, 'flaky.mjs')], { stdin: turns });
    expect(result.code).toBe(1);
    const records = result.records();
    const failed = records.filter((r) => r['type'] === 'error');
    expect(failed).toEqual([{ type: 'error', turn: 2, message: expect.stringMatching(/^Plugin "weft-plugin-flaky" failed in afterToken: flaky at the third token \(the message and its reply are left out of the conversation\)$/) }]);
    expect(result.stderr).toMatch(/^weft: turn 2: Plugin "weft-plugin-flaky" failed in afterToken: flaky at the third token \(the message and its reply are left out of the conversation\)\n$/);
    const [first, third] = dones(records);
    expect(dones(records).map((d) => d.turn)).toEqual([1, 3]);
    // Turn 3 answers the conversation of turn 1 and itself, as one request of those messages does.
    const expected = await generateMessages(chatTurns('Tell me about a cat.', first!.text, 'And then what happened?'), '--temperature', '0', '--max-tokens', '8');
    expect(third!.promptTokens).toBe(expected.promptTokens);
    expect(third!.ids).toEqual(expected.ids);
  });

  it("ends the cut-off reply's line in text output, so the next reply starts on its own line", async () => {
    const result = await chat(['--temperature', '0', '--max-tokens', '8', '--plugin', join(dir, 'flaky-text.mjs')], { stdin: turns });
    expect(result.code).toBe(1);
    const lines = result.stdout.split('\n');
    // Three replies, one line each (the story model's short replies hold no line break of their own here).
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(result.stderr).toMatch(/weft: turn 2: Plugin "weft-plugin-flaky" failed in afterToken/);
  });
});

describe('weft chat on a model without a chat template', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-chat-no-template-'));
    await cp(storyModel, dir, { recursive: true });
    const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    delete config['chat_template'];
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is a one-line usage error pointing to weft generate --prompt, before any input is read', async () => {
    let read = false;
    const stdin = {
      [Symbol.asyncIterator]: () => {
        read = true;
        return [Buffer.from('Hi\n')][Symbol.iterator]();
      },
    };
    const result = await chat(['--model', dir], { stdin: stdin as never });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('weft: This model has no chat_template (in tokenizer_config.json or chat_template.jinja); weft chat needs one: use weft generate --prompt TEXT instead\n');
    expect(read).toBe(false);
  });
});

describe('weft chat on a model whose chat template does not parse', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-chat-unparsed-template-'));
    await cp(storyModel, dir, { recursive: true });
    const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: '{% for %}' }));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([[[]], [['--system', 'Be kind.']]])('blames the template, not %j, in one usage line pointing to weft generate --prompt', async (extra) => {
    const result = await chat(['--model', dir, ...extra], { stdin: 'Hi\n' });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      new RegExp(`^weft: The chat_template in ${join(dir, 'tokenizer_config.json').replace(/[.*+?^\${}()|[\]\\]/g, '\\$&')} does not parse: [^\n]+; weft chat needs a chat template that parses: fix it, or use weft generate --prompt TEXT instead\n$`),
    );
  });
});

describe('weft chat --help', () => {
  it('lists every flag the command takes', async () => {
    const result = await cli(['chat', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(USAGE.chat);
    const listed = new Set([...USAGE.chat.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]));
    expect(Object.keys(CHAT_OPTIONS).map((o) => `--${o}`).filter((flag) => !listed.has(flag))).toEqual([]);
    for (const line of USAGE.chat.split('\n')) expect(line.length, line).toBeLessThanOrEqual(110);
  });
});

describe('pipedInput', () => {
  it('refuses a line over the bound without keeping it, and reads on', async () => {
    const input = pipedInput([Buffer.from('ab'), Buffer.from('cdefgh'), Buffer.from('ij\nok\r\nlast')], undefined, 5);
    expect(await input.read('')).toEqual({ type: 'bad', message: 'line 1 of standard input holds over 5 bytes, more than a turn may; it was skipped' });
    expect(await input.read('')).toEqual({ type: 'line', text: 'ok' });
    expect(await input.read('')).toEqual({ type: 'line', text: 'last' });
    expect(await input.read('')).toEqual({ type: 'end' });
  });

  it('stops a read that waits for input at once when the signal is aborted', async () => {
    const controller = new AbortController();
    let returned = false;
    const never = {
      [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<Uint8Array>>(() => {}), return: async () => ((returned = true), { done: true as const, value: undefined }) }),
    };
    const input = pipedInput(never, controller.signal);
    const read = input.read('');
    controller.abort();
    await expect(read).rejects.toThrow('interrupted');
    expect(returned).toBe(true);
  });
});
