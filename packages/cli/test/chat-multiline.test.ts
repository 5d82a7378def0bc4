import { describe, expect, it } from 'vitest';
import { pipedInput } from '../src/chat/input-lines.js';
import { MessageReader, type MessageEvent } from '../src/chat/message-blocks.js';
import { chat, chatTurns, generateMessages, promptsDrawn, scriptedTerminal, type ChatDone } from './chat-helpers.js';

type Done = ChatDone & { text: string };


/** Every message a reader over piped `text` gives, up to the end. */
async function readAll(text: string, maxBytes?: number): Promise<MessageEvent[]> {
  const reader = new MessageReader(pipedInput([text], undefined), { prompt: '> ', continuation: '... ', numbered: true, ...(maxBytes === undefined ? {} : { maxBytes }) });
  const events: MessageEvent[] = [];
  for (;;) {
    const event = await reader.read();
    events.push(event);
    if (event.type === 'end') return events;
  }
}

/** Continuation prompts ("... ") drawn on stderr so far. */
const continuations = (stderr: string): number => stderr.split('... ').length - 1;

describe('weft chat: """ blocks, piped', () => {
  it('sends a block as one turn, its lines joined with "\\n" (an empty one kept), lines around it one turn each', { timeout: 60_000 }, async () => {
    const stdin = 'Hi\n"""\nOnce upon a time\n\nthe end.\n"""\nBye\n';
    const result = await chat(['--json', '--max-tokens', '4'], { stdin });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const done = result.done() as unknown as Done[];
    expect(done.map((d) => d.turn)).toEqual([1, 2, 3]);
    // Every record belongs to one of the three turns.
    expect(new Set(result.records().map((r) => r['turn']))).toEqual(new Set([1, 2, 3]));
    const [hi, block, bye] = done;
    const expected = await generateMessages(
      chatTurns('Hi', hi!.text, 'Once upon a time\n\nthe end.'),
      '--max-tokens',
      '4',
    );
    expect(block!.promptTokens).toBe(expected.promptTokens);
    expect(block!.ids).toEqual(expected.ids);
    const after = await generateMessages(
      chatTurns('Hi', hi!.text, 'Once upon a time\n\nthe end.', block!.text, 'Bye'),
      '--max-tokens',
      '4',
    );
    expect(bye!.promptTokens).toBe(after.promptTokens);
  });

  it('takes /reset (and //) inside a block as text, and text beside the marks as its first and last lines', { timeout: 60_000 }, async () => {
    const result = await chat(['--json', '--max-tokens', '4'], { stdin: '"""/reset\n//etc\nthe end."""\n' });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.records().filter((r) => r['type'] === 'reset')).toEqual([]);
    const [only, ...rest] = result.done() as unknown as Done[];
    expect(rest).toEqual([]);
    const expected = await generateMessages([{ role: 'user', content: '/reset\n//etc\nthe end.' }], '--max-tokens', '4');
    expect(only!.turn).toBe(1);
    expect(only!.promptTokens).toBe(expected.promptTokens);
    expect(only!.ids).toEqual(expected.ids);
  });

  it('does not send a block the input ends in: one line on stderr (and an error record), exit code 2', { timeout: 60_000 }, async () => {
    const result = await chat(['--json', '--max-tokens', '3'], { stdin: 'Hi\n"""\nNever closed\n/exit\n' });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('weft: the """ block opened at line 2 of standard input has no closing """ before the end of the input; it was not sent\n');
    expect(result.done().map((d) => d['turn'])).toEqual([1]);
    expect(result.records().at(-1)).toEqual({
      type: 'error',
      message: 'the """ block opened at line 2 of standard input has no closing """ before the end of the input; it was not sent',
    });
  });

  it('leaves a line with """ in its middle (or at its end, outside a block) one message', async () => {
    expect(await readAll('say """hi""" twice\nend"""\n')).toEqual([
      { type: 'line', text: 'say """hi""" twice' },
      { type: 'line', text: 'end"""' },
      { type: 'end' },
    ]);
  });
});

describe('MessageReader', () => {
  it('joins a block (marks with whitespace around them, an empty line kept), and reads one-line blocks', async () => {
    expect(await readAll('  """  \nA\n\n  B  \n """ \n"""Hi"""\n""""""\nafter\n')).toEqual([
      { type: 'block', text: 'A\n\n  B  ' },
      { type: 'block', text: 'Hi' },
      { type: 'block', text: '' },
      { type: 'line', text: 'after' },
      { type: 'end' },
    ]);
  });

  it('refuses a block over the bound once it closes, without keeping it, and reads on', async () => {
    // 3 + 1 + 3 bytes: one over the bound of 6.
    expect(await readAll('"""\nabc\ndef\n"""\nok\n"""\nabc\nde\n"""\n', 6)).toEqual([
      { type: 'bad', message: 'the """ block of lines 1-4 of standard input holds over 6 bytes, more than a turn may; it was skipped' },
      { type: 'line', text: 'ok' },
      { type: 'block', text: 'abc\nde' },
      { type: 'end' },
    ]);
  });

  it('refuses a block holding a line the input refused, after that line\'s own report', async () => {
    const reader = new MessageReader(pipedInput([Buffer.from('"""\nA\n\xff\n"""\nok\n', 'latin1')], undefined), { prompt: '> ', continuation: '... ', numbered: true });
    const events: MessageEvent[] = [];
    for (let event = await reader.read(); ; event = await reader.read()) {
      events.push(event);
      if (event.type === 'end') break;
    }
    expect(events.map((e) => e.type)).toEqual(['bad', 'bad', 'line', 'end']);
    expect(events[0]).toMatchObject({ message: expect.stringMatching(/^line 3 of standard input is not valid UTF-8/) });
    expect(events[1]).toEqual({ type: 'bad', message: 'the """ block of lines 1-4 of standard input was not sent: a line in it was refused' });
  });
});

describe('weft chat: """ blocks on a terminal (in-process, readline on a fake terminal)', () => {
  it('shows "... " while a block is open; Ctrl-C drops the block and what is typed, and the next line is a turn', { timeout: 60_000 }, async () => {
    const result = await scriptedTerminal(['--json', '--max-tokens', '3'], [
      { when: (_, stderr) => promptsDrawn(stderr) === 1, keys: '"""\r' },
      { when: (_, stderr) => continuations(stderr) === 1, keys: '/reset\r' },
      // Typed but not entered: dropped with the block.
      { when: (_, stderr) => continuations(stderr) === 2, keys: 'half a line\x03' },
      { when: (_, stderr) => promptsDrawn(stderr) === 2, keys: 'Hi\r' },
      { when: (stdout, stderr) => stdout.includes('"type":"done"') && promptsDrawn(stderr) === 3, keys: '\x04' },
    ]);
    expect(result.steps).toBe(5);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('\nweft: the """ message was discarded (Ctrl-C)\n');
    expect(result.records().filter((r) => r['type'] === 'reset')).toEqual([]);
    const [only, ...rest] = result.done() as unknown as Done[];
    expect(rest).toEqual([]);
    expect(only!.turn).toBe(1);
    const expected = await generateMessages([{ role: 'user', content: 'Hi' }], '--max-tokens', '3');
    expect(only!.promptTokens).toBe(expected.promptTokens);
    expect(only!.ids).toEqual(expected.ids);
  });

  it('sends a block typed at "... " prompts as one turn; Ctrl-D in an open block drops it with a note', { timeout: 60_000 }, async () => {
    const result = await scriptedTerminal(['--json', '--max-tokens', '3'], [
      { when: (_, stderr) => promptsDrawn(stderr) === 1, keys: '"""Once\r\rthe end."""\r' },
      { when: (stdout, stderr) => stdout.includes('"type":"done"') && promptsDrawn(stderr) === 2, keys: '"""\r' },
      // The pasted block's lines were drawn as they came (no "... " for them): this is the first one.
      { when: (_, stderr) => continuations(stderr) === 1, keys: '\x04' },
    ]);
    expect(result.steps).toBe(3);
    expect(result.code).toBe(0);
    const [only, ...rest] = result.done() as unknown as Done[];
    expect(rest).toEqual([]);
    const expected = await generateMessages([{ role: 'user', content: 'Once\n\nthe end.' }], '--max-tokens', '3');
    expect(only!.promptTokens).toBe(expected.promptTokens);
    expect(only!.ids).toEqual(expected.ids);
    expect(result.stderr).toMatch(/\nweft: the """ block has no closing """ before the end of the input; it was not sent\n$/);
  });
});
