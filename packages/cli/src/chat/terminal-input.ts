import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { InterruptedError } from '../errors.js';
import type { TerminalInput } from '../io.js';
import type { ChatInput, InputEvent } from './input-lines.js';

/** Where the prompt and the line being edited are drawn: the command's stderr. */
export interface PromptOutput {
  readonly isTTY?: boolean | undefined;
  write(chunk: string): unknown;
}

/**
 * Lines typed on a terminal, read with line editing and history (node:readline), the prompt and
 * the edited line on `output` (stderr: stdout carries only the replies). readline puts the
 * terminal in raw mode, so Ctrl-C arrives as a key rather than as SIGINT: at the prompt it is an
 * `interrupt` event (what was typed on the line is dropped: the next prompt starts empty); while a
 * reply runs ({@link ChatInput.replying}) it calls that reply's `interrupt`. Ctrl-D on an empty line ends the input. What is typed while a reply runs is not
 * drawn over the reply: it shows at the next prompt, and a line entered then is the next turn.
 * An aborted `signal` (SIGTERM, or SIGINT sent to the process) rejects the read at once, the
 * prompt's line ended first.
 *
 * When `output` is not a terminal (`weft chat 2>log`), nothing is drawn there (no prompt, no
 * escape sequences, no echo in the log) and readline reads the terminal as lines: the terminal
 * itself echoes and edits what is typed, and Ctrl-C is the terminal's SIGINT.
 */
export function terminalInput(input: TerminalInput, output: PromptOutput, signal: AbortSignal | undefined): ChatInput {
  const drawing = output.isTTY === true;
  let muted = false;
  const drawn = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      if (!muted && drawing) output.write(chunk.toString());
      done();
    },
  });
  const columns = (output as { columns?: unknown }).columns;
  Object.defineProperty(drawn, 'columns', { get: () => (output as { columns?: number }).columns ?? (typeof columns === 'number' ? columns : 80) });
  Object.defineProperty(drawn, 'isTTY', { value: true });
  const events = output as { on?: (event: 'resize', listener: () => void) => unknown; off?: (event: 'resize', listener: () => void) => unknown };
  const resized = (): void => void drawn.emit('resize');
  events.on?.('resize', resized);

  const rl = createInterface({ input, output: drawn, terminal: drawing, historySize: 100, removeHistoryDuplicates: true, tabSize: 4 });
  /**
   * Lines entered while no read waited (during a reply, or pasted after the line a read took): each
   * is the next turn, in order, with whether readline drew it as it was typed (not during a reply).
   */
  const queued: { readonly text: string; readonly shown: boolean }[] = [];
  let ended = false;
  let closing = false;
  let waiter: ((event: InputEvent) => void) | undefined;
  let interruptReply: (() => void) | undefined;
  const deliver = (event: InputEvent): boolean => {
    const resolve = waiter;
    if (resolve === undefined) return false;
    waiter = undefined;
    resolve(event);
    return true;
  };
  rl.on('line', (line) => {
    if (!deliver({ type: 'line', text: line })) queued.push({ text: line, shown: drawing && !muted });
  });
  rl.on('close', () => {
    ended = true;
    if (!closing) deliver({ type: 'end' });
  });
  /** Drops what is typed on the line (not drawn: the line stays on screen as it was, and the next prompt starts empty). */
  const dropTyped = (): void => {
    const was = muted;
    muted = true;
    rl.write(null, { ctrl: true, name: 'e' });
    rl.write(null, { ctrl: true, name: 'u' });
    muted = was;
  };
  rl.on('SIGINT', () => {
    if (interruptReply !== undefined) interruptReply();
    else if (waiter !== undefined) {
      dropTyped();
      deliver({ type: 'interrupt' });
    } else {
      // Neither a reply nor a read: the next read sees it.
      queued.push(CTRL_C);
    }
  });

  return {
    read(prompt) {
      if (signal?.aborted) return Promise.reject(new InterruptedError());
      const next = queued.shift();
      if (next === CTRL_C) return Promise.resolve({ type: 'interrupt' });
      if (next !== undefined) {
        // Entered while a reply ran, when nothing was drawn: shown now, as it would have been. A
        // line pasted with others was drawn as it came, and is not drawn again.
        if (drawing && !next.shown) output.write(`${prompt}${next.text}\n`);
        return Promise.resolve({ type: 'line', text: next.text });
      }
      if (ended) return Promise.resolve({ type: 'end' });
      return new Promise<InputEvent>((resolve, reject) => {
        const stop = (): void => {
          waiter = undefined;
          // "weft: interrupted" follows on a line of its own, not after the prompt and what was typed.
          if (drawing) output.write('\n');
          reject(new InterruptedError());
        };
        signal?.addEventListener('abort', stop, { once: true });
        waiter = (event) => {
          signal?.removeEventListener('abort', stop);
          resolve(event);
        };
        rl.setPrompt(prompt);
        // What was typed during the reply is drawn after the prompt, cursor where it was.
        rl.prompt(true);
      });
    },
    replying(interrupt) {
      muted = true;
      interruptReply = interrupt;
      return () => {
        muted = false;
        interruptReply = undefined;
      };
    },
    close() {
      if (closing) return;
      closing = true;
      muted = false;
      events.off?.('resize', resized);
      rl.close();
      input.pause?.();
    },
  };
}

/** Ctrl-C pressed while neither a reply nor a read waited: the next read's event. */
const CTRL_C = { text: '\u0003', shown: false } as const;
