import { InterruptedError } from '../errors.js';
import { decodeUtf8Strictly, MAX_TEXT_BYTES, type StdinSource } from '../read-text.js';

/** What a chat input gives next: a line, one it had to refuse, the end of the input, or Ctrl-C at the prompt. */
export type InputEvent =
  | { readonly type: 'line'; readonly text: string }
  | { readonly type: 'bad'; readonly message: string }
  | { readonly type: 'end' }
  | { readonly type: 'interrupt' };

/** Where `weft chat` reads its turns: standard input line by line (see {@link pipedInput}, `terminalInput`). */
export interface ChatInput {
  /** The next line; rejects with `InterruptedError` once the command's signal is aborted. `prompt` is shown on a terminal. */
  read(prompt: string): Promise<InputEvent>;
  /**
   * Marks a reply as running until the returned function is called: on a terminal, Ctrl-C then
   * calls `interrupt` (it stops the reply, not the command) and what is typed meanwhile waits for
   * the next prompt.
   */
  replying(interrupt: () => void): () => void;
  /** Stops reading (lets the source go). */
  close(): void;
}

/** Bytes a line may hold (a turn is at most what `--prompt-file` reads). */
export const MAX_LINE_BYTES = MAX_TEXT_BYTES;

const NEWLINE = 0x0a;

/**
 * Lines of a piped standard input (or a file), each decoded strictly as UTF-8 without its line
 * break (`\n` or `\r\n`); the last one may lack a break. A line over `maxBytes` bytes or not UTF-8
 * is refused (a `bad` event) without holding more than `maxBytes` of it. An aborted `signal`
 * rejects the read at once, without waiting for more input.
 */
export function pipedInput(stdin: StdinSource, signal: AbortSignal | undefined, maxBytes = MAX_LINE_BYTES): ChatInput {
  const iterator: AsyncIterator<Uint8Array | string> | Iterator<Uint8Array | string> =
    Symbol.asyncIterator in stdin ? stdin[Symbol.asyncIterator]() : stdin[Symbol.iterator]();
  let buffered: Buffer = Buffer.alloc(0);
  /** Bytes of the current line (held in `parts`, or dropped once it was over `maxBytes`). */
  let parts: Buffer[] = [];
  let lineBytes = 0;
  let lineNumber = 0;
  let ended = false;
  let closed = false;

  /** The line whose bytes are `bytes` (and whose size is `lineBytes`), as an event. */
  const lineEvent = (bytes: Buffer): InputEvent => {
    lineNumber++;
    const size = lineBytes;
    parts = [];
    lineBytes = 0;
    const what = `line ${lineNumber} of standard input`;
    if (size > maxBytes) return { type: 'bad', message: `${what} holds over ${maxBytes} bytes, more than a turn may; it was skipped` };
    try {
      return { type: 'line', text: decodeUtf8Strictly(bytes, what).replace(/\r$/, '') };
    } catch (error) {
      return { type: 'bad', message: `${(error as Error).message} (it was skipped)` };
    }
  };

  const take = (chunk: Buffer): void => {
    lineBytes += chunk.byteLength;
    // Past the bound, the line's bytes are counted, not kept.
    if (lineBytes <= maxBytes) parts.push(chunk);
    else parts = [];
  };

  const nextChunk = async (): Promise<IteratorResult<Uint8Array | string>> => {
    if (signal === undefined) return iterator.next();
    let stop = (): void => {};
    const stopped = new Promise<never>((_, reject) => {
      stop = () => reject(new InterruptedError());
    });
    stopped.catch(() => {});
    signal.addEventListener('abort', stop, { once: true });
    try {
      return await Promise.race([iterator.next(), stopped]);
    } finally {
      signal.removeEventListener('abort', stop);
    }
  };

  const close = (): void => {
    if (closed) return;
    closed = true;
    if (!ended) void Promise.resolve(iterator.return?.()).catch(() => {});
  };

  return {
    async read() {
      for (;;) {
        if (signal?.aborted) {
          close();
          throw new InterruptedError();
        }
        const at = buffered.indexOf(NEWLINE);
        if (at >= 0) {
          take(buffered.subarray(0, at));
          buffered = buffered.subarray(at + 1);
          return lineEvent(Buffer.concat(parts));
        }
        if (buffered.byteLength > 0) {
          take(buffered);
          buffered = Buffer.alloc(0);
        }
        if (ended || closed) {
          if (lineBytes > 0) return lineEvent(Buffer.concat(parts));
          return { type: 'end' };
        }
        let next: IteratorResult<Uint8Array | string>;
        try {
          next = await nextChunk();
        } catch (error) {
          close();
          throw error;
        }
        if (next.done) {
          ended = true;
          continue;
        }
        const chunk = next.value;
        buffered = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
    },
    replying: () => () => {},
    close,
  };
}
