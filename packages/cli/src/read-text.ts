import { closeSync, constants, createReadStream, openSync, type ReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { InterruptedError, UsageError } from './errors.js';

/**
 * Bytes a command reads when a file flag is `-`; `isTTY: true` marks a terminal, where the
 * command says how to end the input before it waits for it.
 */
export type StdinSource = (AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>) & { readonly isTTY?: boolean };

/**
 * Decodes `bytes` as UTF-8 and rejects anything else (no silent U+FFFD replacement). A leading
 * byte-order mark is dropped. `what` names the source in the error, e.g. `--text-file a.txt`.
 */
export function decodeUtf8Strictly(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${what} is not valid UTF-8 (first bad byte at offset ${firstInvalidByte(bytes)}); convert it to UTF-8 first`);
  }
}

/** Byte offset of the first sequence that is not UTF-8, or -1 when all of `bytes` is UTF-8. */
export function firstInvalidByte(bytes: Uint8Array): number {
  // A lenient decode marks each bad sequence with U+FFFD; an U+FFFD whose bytes are really
  // EF BF BD was in the file and is skipped. Every character before the mark decoded cleanly,
  // so the mark's byte offset is the UTF-8 length of the text before it.
  const lenient = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
  for (let at = lenient.indexOf('\uFFFD'); at >= 0; at = lenient.indexOf('\uFFFD', at + 1)) {
    const offset = Buffer.byteLength(lenient.slice(0, at));
    if (bytes[offset] !== 0xef || bytes[offset + 1] !== 0xbf || bytes[offset + 2] !== 0xbd) return offset;
  }
  return -1;
}

/** Where {@link readUtf8Text} reads `-` from, what stops it, and where it says it is waiting for a terminal. */
export interface ReadOptions {
  readonly stdin?: StdinSource | undefined;
  /** Aborting stops a read of standard input at once, with {@link InterruptedError}. */
  readonly signal?: AbortSignal | undefined;
  /** Told one line (no newline) before standard input is read from a terminal. */
  readonly notice?: ((line: string) => void) | undefined;
}

/**
 * The text of the file `path` (or of standard input when `path` is `-`), decoded strictly as
 * UTF-8. Read and decode failures are usage errors naming `flag` and the path.
 */
export async function readUtf8Text(path: string, flag: string, options: ReadOptions = {}): Promise<string> {
  const { stdin, signal } = options;
  if (signal?.aborted) throw new InterruptedError();
  if (path === '-') {
    if (!stdin) throw new UsageError(`${flag} - reads standard input, which this caller did not provide`);
    if (stdin.isTTY === true) {
      options.notice?.(`reading ${flag} - from the terminal; end it with ${process.platform === 'win32' ? 'Ctrl-Z and Enter' : 'Ctrl-D'} (Ctrl-C cancels)`);
    }
    const bytes = await readAll(stdin, signal, () => tooLarge(flag, '-', `more than ${MAX_TEXT_BYTES} bytes`));
    return decodeUtf8Strictly(bytes, `${flag} - (standard input)`);
  }
  const fail = (error: NodeJS.ErrnoException): never => {
    throw new UsageError(`cannot read ${flag} ${path}: ${readFailure(error)}`);
  };
  const info = await stat(path).catch(fail);
  if (info.isFile()) {
    if (info.size > MAX_TEXT_BYTES) throw tooLarge(flag, path, `${info.size} bytes`);
    return decodeUtf8Strictly(await readFile(path).catch(fail), `${flag} ${path}`);
  }
  // A pipe (`<(command)`, a named pipe) is read as it comes, up to the same size; a device such
  // as /dev/zero could give bytes for ever, and a directory or socket holds no text.
  if (!info.isFIFO()) throw new UsageError(`cannot read ${flag} ${path}: ${info.isDirectory() ? 'it is a directory, not a file' : 'it is not a regular file or a pipe (for standard input, write -)'}`);
  const fifo = createReadStream(path);
  const bytes = await readAll(fifo, signal, () => tooLarge(flag, path, `more than ${MAX_TEXT_BYTES} bytes`)).catch((error: unknown) => {
    if (error instanceof InterruptedError) unblockOpen(fifo, path);
    if (error instanceof UsageError || error instanceof InterruptedError) throw error;
    return fail(error as NodeJS.ErrnoException);
  });
  return decodeUtf8Strictly(bytes, `${flag} ${path}`);
}

/**
 * Opening a named pipe for reading waits for a writer, in one of libuv's threads; left waiting,
 * that thread kept the process from exiting after Ctrl-C (`process.exit()` waits for it), so only
 * SIGKILL ended `weft generate --prompt-file FIFO` with no writer. Opening the pipe for writing
 * without blocking, and closing it at once, lets that open finish (it then reads end of file).
 * Tried again for a second while the read stream is still opening (a write-only open fails
 * until the read's open has begun).
 */
function unblockOpen(stream: ReadStream, path: string, tries = 100): void {
  if (!stream.pending) return void stream.destroy();
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // ENXIO: the read's open has not begun yet.
    if (tries > 1) {
      setTimeout(() => unblockOpen(stream, path, tries - 1), 10);
      return;
    }
  }
  stream.destroy();
}

/** The most a text flag reads (256 MiB): far past any context, and what a mistaken path would make the command hold. */
export const MAX_TEXT_BYTES = 256 * 1024 * 1024;

function tooLarge(flag: string, path: string, size: string): UsageError {
  return new UsageError(`${flag} ${path} holds ${size}, more than the ${MAX_TEXT_BYTES / 1024 / 1024} MiB a text flag reads; pass a smaller file`);
}

/** Why a file could not be read, in words for the common cases. */
function readFailure(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'it is a directory, not a file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return error.message;
  }
}

/**
 * Every chunk of `stream`, refused with `overLimit()` past {@link MAX_TEXT_BYTES}. An aborted `signal` rejects at once with {@link InterruptedError},
 * without waiting for the next chunk (a terminal may never send one), and ends the iteration.
 */
async function readAll(stream: StdinSource, signal: AbortSignal | undefined, overLimit: () => Error): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator: AsyncIterator<Uint8Array | string> | Iterator<Uint8Array | string> =
    Symbol.asyncIterator in stream ? stream[Symbol.asyncIterator]() : stream[Symbol.iterator]();
  let stop = (): void => {};
  const stopped = new Promise<never>((_, reject) => {
    stop = () => reject(new InterruptedError());
  });
  stopped.catch(() => {});
  signal?.addEventListener('abort', stop, { once: true });
  let finished = false;
  try {
    for (;;) {
      if (signal?.aborted) throw new InterruptedError();
      const next = await Promise.race([iterator.next(), stopped]);
      if (next.done) break;
      const chunk = next.value;
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      size += bytes.byteLength;
      if (size > MAX_TEXT_BYTES) throw overLimit();
      chunks.push(bytes);
    }
    finished = true;
  } finally {
    signal?.removeEventListener('abort', stop);
    // Left early: let the source go (for process.stdin, this stops reading it).
    if (!finished) void Promise.resolve(iterator.return?.()).catch(() => {});
  }
  if (signal?.aborted) throw new InterruptedError();
  return Buffer.concat(chunks);
}
