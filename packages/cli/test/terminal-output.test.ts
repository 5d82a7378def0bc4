import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLine, terminalSafe, textWriter } from '../src/output/terminal-text.js';
import { MAIN_USAGE, USAGE } from '../src/usage.js';
import { runCli } from '../src/index.js';
import { cli, storyModel } from './helpers.js';

/** Every character a terminal may act on instead of printing (C0 but \t and \n, DEL, C1) and the bidi controls. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('terminalSafe', () => {
  it('shows C0 controls (but \\t and \\n) and DEL as their Control Pictures', () => {
    for (let code = 0; code < 0x20; code++) {
      const char = String.fromCharCode(code);
      expect(terminalSafe(char), `U+${code.toString(16)}`).toBe(char === '\t' || char === '\n' ? char : String.fromCharCode(0x2400 + code));
    }
    expect(terminalSafe('\u007f')).toBe('\u2421');
    expect(terminalSafe('red \u001b[31mtext\u001b[0m\r\nover\bx\u0007')).toBe('red \u241b[31mtext\u241b[0m\u240d\nover\u2408x\u2407');
    // OSC 52 (set the clipboard) and OSC 8 (a link whose target is hidden), with both terminators.
    expect(terminalSafe('\u001b]52;c;aGk=\u0007')).toBe('\u241b]52;c;aGk=\u2407');
    expect(terminalSafe('\u001b]8;;https://x.test\u001b\\here\u001b]8;;\u001b\\')).toBe('\u241b]8;;https://x.test\u241b\\here\u241b]8;;\u241b\\');
  });

  it('shows C1 controls and bidi embeddings, overrides and isolates as \\u escapes', () => {
    for (let code = 0x80; code <= 0x9f; code++) expect(terminalSafe(String.fromCharCode(code))).toBe(`\\u00${code.toString(16)}`);
    expect(terminalSafe('\u009b2J')).toBe('\\u009b2J');
    for (const code of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) {
      expect(terminalSafe(String.fromCharCode(code))).toBe(`\\u${code.toString(16)}`);
    }
  });

  it('leaves printable text alone: tabs, newlines, accents, CJK, emoji, bidi marks, right-to-left letters', () => {
    const text = 'Tom\tsaid:\n"café, 猫, 🦊, \u200e\u200f\u061c שלום \u00a0\u00ff\u2028"';
    expect(terminalSafe(text)).toBe(text);
  });

  it('gives the same text when applied piece by piece, wherever the text is split', () => {
    const text = 'a\u001b[2J\u009b\u202e🦊\r\n\u0007b';
    for (let at = 0; at <= text.length; at++) expect(terminalSafe(text.slice(0, at)) + terminalSafe(text.slice(at))).toBe(terminalSafe(text));
  });
});

describe('textWriter', () => {
  const capture = (isTTY: boolean | undefined) => {
    const chunks: string[] = [];
    return { chunks, out: { ...(isTTY === undefined ? {} : { isTTY }), write: (chunk: string) => chunks.push(chunk) } };
  };

  it('makes the text safe on a terminal and writes it byte for byte elsewhere or with raw', () => {
    const text = 'x\u001b[31my\u009b';
    for (const [isTTY, raw, expected] of [
      [true, false, 'x\u241b[31my\\u009b'],
      [true, true, text],
      [false, false, text],
      [undefined, false, text],
    ] as const) {
      const { chunks, out } = capture(isTTY);
      textWriter(out, raw)(text);
      expect(chunks, `isTTY ${String(isTTY)}, raw ${raw}`).toEqual([expected]);
    }
  });
});

describe('jsonLine', () => {
  it('escapes DEL, C1 and bidi controls, which JSON.stringify leaves raw, and parses to the same value', () => {
    const value = { text: 'a\u001b[2J\u007f\u009b\u202e\u2066b\u200e', n: 1 };
    expect(JSON.stringify(value)).toMatch(/[\u007f\u009b\u202e\u2066]/); // what the line had before
    const line = jsonLine(value);
    expect(line).toBe('{"text":"a\\u001b[2J\\u007f\\u009b\\u202e\\u2066b\u200e","n":1}');
    expect(line).not.toMatch(UNSAFE);
    expect(JSON.parse(line)).toEqual(value);
  });

  it('is JSON.stringify for text without them', () => {
    const value = { type: 'token', id: 3, text: ' the "fox"\n\u0007 café' };
    expect(jsonLine(value)).toBe(JSON.stringify(value));
  });
});

describe('help', () => {
  it('has no control characters itself', () => {
    for (const text of [MAIN_USAGE, ...Object.values(USAGE)]) expect(text).not.toMatch(UNSAFE);
  });
});

/**
 * A copy of the story model whose tokenizer decodes "." (a token every story has) as a period
 * followed by an attack on the terminal: OSC 52 (write "hi" to the clipboard) ended by BEL, a
 * carriage return and a backspace, C1 CSI "clear the screen", and a right-to-left override.
 */
const ATTACK = '\u001b]52;c;aGk=\u0007\r\b\u009b2J\u202e';
const SHOWN = '\u241b]52;c;aGk=\u2407\u240d\u2408\\u009b2J\\u202e';

describe('generate and demo through a model whose text holds control sequences', () => {
  let dir: string;
  let model: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-cli-tty-'));
    model = join(dir, 'hostile');
    await cp(storyModel, model, { recursive: true, filter: (path) => !path.includes('data') });
    const tokenizer = JSON.parse(await readFile(join(model, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> }; added_tokens?: object[] };
    const period = tokenizer.model.vocab['.'];
    expect(period).toBeTypeOf('number');
    tokenizer.added_tokens = [
      ...(tokenizer.added_tokens ?? []),
      { id: period, content: `.${ATTACK}`, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false },
    ];
    await writeFile(join(model, 'tokenizer.json'), JSON.stringify(tokenizer));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const generate = ['--threads', '1', '--prompt', 'Once upon a time', '--max-tokens', '40'];
  const run = (args: readonly string[], tty?: boolean) => {
    const writes: string[] = [];
    return cli(['generate', '--model', model, ...args], { ...(tty === undefined ? {} : { tty }), onStdout: (chunk) => void writes.push(chunk) }).then((r) => ({ ...r, writes }));
  };
  let text: string;
  beforeAll(async () => {
    const json = await run([...generate, '--json']);
    expect(json.code, json.stderr).toBe(0);
    text = json.json().at(-1)!['text'] as string;
    expect(text).toContain(`.${ATTACK}`); // the model's text does hold the attack
  });

  it('on a terminal, streams every control character as a visible stand-in, token by token', async () => {
    const result = await run(generate, true);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${terminalSafe(text)}\n`);
    expect(result.stdout).toContain(`.${SHOWN}`);
    expect(result.stdout).not.toMatch(UNSAFE);
    expect(result.writes.length).toBeGreaterThan(10); // still one write per text delta
    for (const chunk of result.writes) expect(chunk).not.toMatch(UNSAFE);
  });

  it('writes the text byte for byte to a pipe or file, and with --raw on a terminal', async () => {
    // A newline ends the text only on a terminal (so the shell's prompt starts on a line of its own).
    for (const [tty, args, end] of [[false, generate, ''], [undefined, generate, ''], [true, [...generate, '--raw'], '\n']] as const) {
      const result = await run(args, tty);
      expect(result.code).toBe(0);
      expect(result.stdout, `tty ${String(tty)}, ${args.join(' ')}`).toBe(`${text}${end}`);
    }
  });

  it('--json is the same on a terminal and off it, escapes every control character, and parses to the model\'s text', async () => {
    const [onTerminal, offTerminal] = [await run([...generate, '--json'], true), await run([...generate, '--json'], false)];
    const untimed = (stdout: string) => stdout.replace(/"ttftMs":[\d.]+,"msPerToken":[\d.]+,"durationMs":[\d.]+/, '');
    expect(untimed(onTerminal.stdout)).toBe(untimed(offTerminal.stdout));
    expect(onTerminal.stdout.replaceAll('\n', '')).not.toMatch(UNSAFE);
    expect(onTerminal.stdout).toContain('.\\u001b]52;c;aGk=\\u0007\\r\\b\\u009b2J\\u202e');
    const records = onTerminal.json();
    expect(records.at(-1)!['text']).toBe(text);
    expect(records.filter((r) => r['type'] === 'token' || r['type'] === 'text').map((r) => r['text']).join('')).toBe(text);
  });

  it('--raw with --json is a usage error', async () => {
    const result = await run([...generate, '--json', '--raw'], true);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('weft: --raw applies to the text output; --json escapes control characters itself, so give only one of --raw, --json\n');
  });

  it('demo does the same with its story', async () => {
    const demo = (tty: boolean, ...extra: string[]) => cli(['demo', '--model', model, '--threads', '1', '--max-tokens', '60', '--seed', '7', ...extra], { tty });
    const piped = await demo(false);
    expect(piped.code).toBe(0);
    expect(piped.stdout).toContain(ATTACK);
    const shown = await demo(true);
    expect(shown.stdout).toBe(terminalSafe(piped.stdout));
    expect(shown.stdout).toContain(SHOWN);
    expect(shown.stdout).not.toMatch(UNSAFE);
    expect((await demo(true, '--raw')).stdout).toBe(piped.stdout);
  });
});

describe('error lines on a terminal', () => {
  // A model folder path with an escape sequence in it: the error names the path.
  const hostile = '/tmp/no-such-\u001b]52;c;cGF5bG9hZA==\u0007model';
  const run = async (isTTY: boolean | undefined) => {
    let stderr = '';
    const code = await runCli(['generate', '--model', hostile, '--prompt', 'x'], {
      stdout: { write: () => true },
      stderr: { ...(isTTY === undefined ? {} : { isTTY }), write: (chunk: string) => ((stderr += chunk), true) },
    });
    return { code, stderr };
  };

  it('show controls as stand-ins when stderr is a terminal, byte for byte otherwise', async () => {
    const tty = await run(true);
    expect(tty.code).toBe(2);
    expect(tty.stderr).toContain('no-such-␛]52;c;cGF5bG9hZA==␇model');
    expect(tty.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(tty.stderr.endsWith('\n')).toBe(true);
    for (const piped of [await run(false), await run(undefined)]) {
      expect(piped.code).toBe(2);
      expect(piped.stderr).toContain(hostile);
    }
  });
});
