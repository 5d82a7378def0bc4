import { readFile } from 'node:fs/promises';
import { InterruptedError, UsageError } from './errors.js';

/** Bytes a command reads when a file flag is `-`. */
export type StdinSource = AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

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

/**
 * The text of the file `path` (or of `stdin` when `path` is `-`), decoded strictly as UTF-8.
 * Read and decode failures are usage errors naming `flag` and the path.
 */
export async function readUtf8Text(path: string, flag: string, stdin?: StdinSource, signal?: AbortSignal): Promise<string> {
  if (path === '-') {
    if (!stdin) throw new UsageError(`${flag} - reads standard input, which this caller did not provide`);
    return decodeUtf8Strictly(await readAll(stdin, signal), `${flag} - (standard input)`);
  }
  const bytes = await readFile(path).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${flag} ${path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  return decodeUtf8Strictly(bytes, `${flag} ${path}`);
}

async function readAll(stream: StdinSource, signal: AbortSignal | undefined): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    if (signal?.aborted) throw new InterruptedError();
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks);
}
