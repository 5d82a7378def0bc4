import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARGV_BYTE_LIMIT, commandLineBytes, commandLineTooLong } from '../src/argv-limit.js';
import { decodeUtf8Strictly, firstInvalidByte } from '../src/read-text.js';
import { UsageError } from '../src/index.js';
import { cli, generateJson, storyModel } from './helpers.js';

const PROMPT = 'Once upon a time, there was a little fox named Tom.';
const CHAT = [{ role: 'system', content: 'You tell short stories.' }, { role: 'user', content: 'Tell me about a fox.' }];
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const doneIds = (records: Record<string, unknown>[]) => (records.at(-1) as { type: string; ids: number[] }).ids;

describe('strict UTF-8 decoding', () => {
  const bytes = (...b: number[]) => Uint8Array.from(b);

  it('finds the first byte that is not UTF-8, past a genuine U+FFFD', () => {
    expect(firstInvalidByte(new TextEncoder().encode('plain ✓ text'))).toBe(-1);
    expect(firstInvalidByte(bytes(0x61, 0x62, 0xff, 0x63))).toBe(2);
    // "é" (2 bytes), a real U+FFFD (EF BF BD), then a lone continuation byte at offset 5.
    expect(firstInvalidByte(bytes(0xc3, 0xa9, 0xef, 0xbf, 0xbd, 0x80))).toBe(5);
    // A truncated 3-byte sequence at the end.
    expect(firstInvalidByte(bytes(0x61, 0xe2, 0x9c))).toBe(1);
  });

  it('decodes UTF-8 (dropping a BOM) and rejects Latin-1 with the offset', () => {
    expect(decodeUtf8Strictly(bytes(0xef, 0xbb, 0xbf, 0x68, 0x69), 'x')).toBe('hi');
    expect(() => decodeUtf8Strictly(bytes(0x63, 0x61, 0x66, 0xe9), '--text-file a.txt')).toThrow(
      new UsageError('--text-file a.txt is not valid UTF-8 (first bad byte at offset 3); convert it to UTF-8 first'),
    );
  });
});

describe('weft eval and generate read files as strict UTF-8', () => {
  let dir: string;
  const file = (name: string) => join(dir, name);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-cli-files-'));
    await writeFile(file('latin1.txt'), Buffer.from('Once upon a time, a caf\xe9 opened.\n', 'latin1'));
    await writeFile(file('prompt.txt'), `${PROMPT}\n`);
    await writeFile(file('empty.txt'), '\n');
    await writeFile(file('chat.json'), `${JSON.stringify(CHAT)}\n`);
    await writeFile(file('not-json.json'), '[{"role": "user",');
    await writeFile(file('not-chat.json'), '{"role": "user", "content": "Hi"}');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('eval --text-file that is not UTF-8 exits 2 naming the file, without scoring replacement characters', async () => {
    const result = await cli(['eval', '--model', storyModel, '--threads', '1', '--text-file', file('latin1.txt')]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`weft: --text-file ${file('latin1.txt')} is not valid UTF-8 (first bad byte at offset 23); convert it to UTF-8 first\n`);
  });

  it('--prompt-file gives what --prompt gives for the same text (one trailing newline dropped)', async () => {
    const direct = await generateJson(storyModel, '--prompt', PROMPT, '--max-tokens', '12');
    const fromFile = await generateJson(storyModel, '--prompt-file', file('prompt.txt'), '--max-tokens', '12');
    expect(fromFile.code).toBe(0);
    expect(fromFile.stderr).toBe('');
    expect(doneIds(fromFile.json())).toEqual(doneIds(direct.json()));
    expect(fromFile.json().at(-1)).toMatchObject({ promptTokens: (direct.json().at(-1) as { promptTokens: number }).promptTokens });
  });

  it('--prompt-file - reads standard input', async () => {
    const direct = await generateJson(storyModel, '--prompt', PROMPT, '--max-tokens', '8');
    const fromStdin = await cli(['generate', '--model', storyModel, '--threads', '1', '--json', '--prompt-file', '-', '--max-tokens', '8'], {
      stdin: new TextEncoder().encode(`${PROMPT}\n`),
    });
    expect(fromStdin.code).toBe(0);
    expect(doneIds(fromStdin.json())).toEqual(doneIds(direct.json()));
  });

  it('--messages-file gives what --messages gives for the same turns, from a file or standard input', async () => {
    const direct = await generateJson(storyModel, '--messages', JSON.stringify(CHAT), '--max-tokens', '10');
    expect(direct.code).toBe(0);
    const fromFile = await generateJson(storyModel, '--messages-file', file('chat.json'), '--max-tokens', '10');
    expect(fromFile.code).toBe(0);
    expect(fromFile.stderr).toBe('');
    expect(doneIds(fromFile.json())).toEqual(doneIds(direct.json()));
    const fromStdin = await cli(['generate', '--model', storyModel, '--threads', '1', '--json', '--messages-file', '-', '--max-tokens', '10'], {
      stdin: new TextEncoder().encode(JSON.stringify(CHAT)),
    });
    expect(fromStdin.code).toBe(0);
    expect(doneIds(fromStdin.json())).toEqual(doneIds(direct.json()));
  });

  it.each([
    [['--messages-file', 'not-json.json'], (f: (n: string) => string) => expect.stringMatching(new RegExp(`^weft: --messages-file ${escape(f('not-json.json'))} is not valid JSON: .+\n$`))],
    [['--messages-file', 'not-chat.json'], (f: (n: string) => string) => `weft: --messages-file ${f('not-chat.json')} must be a non-empty JSON array of {"role": "...", "content": "..."} objects\n`],
    [['--messages-file', 'empty.txt'], (f: (n: string) => string) => `weft: --messages-file ${f('empty.txt')} is empty\n`],
    [['--messages-file', 'missing.json'], (f: (n: string) => string) => `weft: cannot read --messages-file ${f('missing.json')}: no such file\n`],
    [['--messages-file', 'chat.json', '--messages', '[]'], () => 'weft: give only one of --messages, --messages-file\n'],
    [['--messages-file='], () => 'weft: --messages-file needs a file path (or - for standard input)\n'],
  ])('generate %j exits 2 with one line', async (args, message) => {
    const resolved = args.map((a) => (/\.(txt|json)$/.test(a) ? file(a) : a));
    const result = await cli(['generate', '--model', storyModel, ...resolved]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toEqual(message(file));
  });

  it.each([
    [['--prompt-file', 'latin1.txt'], (f: (n: string) => string) => `weft: --prompt-file ${f('latin1.txt')} is not valid UTF-8 (first bad byte at offset 23); convert it to UTF-8 first\n`],
    [['--prompt-file', 'empty.txt'], (f: (n: string) => string) => `weft: --prompt-file ${f('empty.txt')} is empty\n`],
    [['--prompt-file', 'missing.txt'], (f: (n: string) => string) => `weft: cannot read --prompt-file ${f('missing.txt')}: no such file\n`],
    [['--prompt-file', 'prompt.txt', '--prompt', 'x'], () => 'weft: give only one of --prompt, --prompt-file\n'],
    [['--prompt-file', 'prompt.txt', '--prompt-ids', '1,2'], () => 'weft: give only one of --prompt-file, --prompt-ids\n'],
  ])('generate %j exits 2 with one line', async (args, message) => {
    const resolved = args.map((a) => (a.endsWith('.txt') ? file(a) : a));
    const result = await cli(['generate', '--model', storyModel, ...resolved]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(message(file));
  });

  it.each(['--prompt-file', '--messages-file'])('generate %s with a directory says it is one', async (flag) => {
    const result = await cli(['generate', '--model', storyModel, flag, dir]);
    expect(result.code).toBe(2);
    // Before: "EISDIR: illegal operation on a directory, read".
    expect(result.stderr).toBe(`weft: cannot read ${flag} ${dir}: it is a directory, not a file\n`);
  });

  it('eval names --text-file when the file holds no text', async () => {
    const result = await cli(['eval', '--model', storyModel, '--text-file', file('empty.txt')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`weft: --text-file ${file('empty.txt')} holds no text\n`);
    const directory = await cli(['eval', '--model', storyModel, '--text-file', dir]);
    expect(directory.stderr).toBe(`weft: cannot read --text-file ${dir}: it is a directory, not a file\n`);
  });

  it('eval --text-file - reads standard input, as --prompt-file - does', async () => {
    const text = `${PROMPT}\n\nTom had a big red ball. He liked to throw it to his dog.\n`;
    const fromFile = file('two-documents.txt');
    await writeFile(fromFile, text);
    const direct = await cli(['eval', '--model', storyModel, '--threads', '1', '--json', '--text-file', fromFile]);
    // Before: "cannot read --text-file -: no such file".
    const fromStdin = await cli(['eval', '--model', storyModel, '--threads', '1', '--json', '--text-file', '-'], { stdin: text });
    expect(fromStdin.stderr).toBe('');
    expect(fromStdin.code).toBe(0);
    const { nll, tokens, documents } = JSON.parse(direct.stdout) as Record<string, number>;
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ nll, tokens, documents: 2 });
    expect(documents).toBe(2);
  });

  it('--prompt-file - without a standard input to read is a usage error', async () => {
    const result = await cli(['generate', '--model', storyModel, '--prompt-file', '-']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^weft: --prompt-file - reads standard input, which this caller did not provide\n$/);
  });
});

describe('the command-line length guard', () => {
  it('counts UTF-8 bytes plus one NUL per argument', () => {
    expect(commandLineBytes(['node', 'é'])).toBe(5 + 3);
  });

  it('passes command lines up to the limit and refuses longer ones, pointing to --prompt-file', () => {
    const head = ['/usr/bin/node', '/x/bin.js', 'generate', '--prompt'];
    const fill = (bytes: number) => [...head, 'x'.repeat(bytes - commandLineBytes(head) - 1)];
    expect(commandLineBytes(fill(ARGV_BYTE_LIMIT))).toBe(ARGV_BYTE_LIMIT);
    expect(commandLineTooLong(fill(ARGV_BYTE_LIMIT))).toBeUndefined();
    const message = commandLineTooLong(fill(ARGV_BYTE_LIMIT + 1));
    expect(message).toBe(
      `the command line is ${ARGV_BYTE_LIMIT + 1} bytes, over the limit of ${ARGV_BYTE_LIMIT} (onnxruntime-node crashes on command lines ` +
        'of about 28 KiB); put a long prompt in a file and pass --prompt-file FILE (--messages-file FILE for chat turns), or - as FILE to read stdin',
    );
    // Well below where onnxruntime-node 1.30 was measured to crash (about 28.9 KB).
    expect(ARGV_BYTE_LIMIT).toBeLessThanOrEqual(20_000);
  });
});

describe('text flags read files and pipes, not devices, and only so much', () => {
  it('refuses a device such as /dev/zero at once instead of reading it for ever', async () => {
    for (const argv of [
      ['eval', '--model', storyModel, '--text-file', '/dev/zero'],
      ['generate', '--model', storyModel, '--prompt-file', '/dev/zero'],
      ['generate', '--model', storyModel, '--messages-file', '/dev/zero'],
    ]) {
      const { code, stderr } = await cli(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(stderr).toMatch(/^weft: cannot read --(text|prompt|messages)-file \/dev\/zero: it is not a regular file or a pipe \(for standard input, write -\)\n$/);
    }
  });

  it('reads a named pipe as it comes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-cli-fifo-'));
    try {
      const fifo = join(dir, 'prompt.fifo');
      const { execFileSync, spawn } = await import('node:child_process');
      execFileSync('mkfifo', [fifo]);
      // A writer on the other end, as `<(printf …)` gives one.
      const writer = spawn('sh', ['-c', `printf 'Once upon a time' > '${fifo}'`]);
      const { code, json } = await generateJson(storyModel, '--prompt-file', fifo, '--max-tokens', '2');
      writer.kill();
      expect(code).toBe(0);
      expect(json().at(-1)).toMatchObject({ type: 'done', completionTokens: 2 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses standard input past the limit', async () => {
    const { MAX_TEXT_BYTES } = await import('../src/read-text.js');
    const chunk = new Uint8Array(64 * 1024 * 1024).fill(0x61);
    const { readUtf8Text } = await import('../src/read-text.js');
    const endless = { async *[Symbol.asyncIterator]() { for (;;) yield chunk; } };
    await expect(readUtf8Text('-', '--text-file', { stdin: endless })).rejects.toThrow(
      new UsageError(`--text-file - holds more than ${MAX_TEXT_BYTES} bytes, more than the 256 MiB a text flag reads; pass a smaller file`),
    );
  });
});
