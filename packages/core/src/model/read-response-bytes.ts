import { ModelLoadError } from '../errors/model-load-error.js';
import { concatBytes } from '../util/concat-bytes.js';

/** The first array {@link readResponseBytes} allocates for an announced body, at most. */
const FIRST_ALLOCATION = 16 * 1024 * 1024;

/** Bounds of {@link readResponseBytes}. */
export interface ReadLimits {
  /** Size of the first array for an announced body, at most (default 16 MiB; tests set less). */
  readonly firstAllocation?: number;
  /** A body longer than this (announced or as it arrives) is a `ModelLoadError` (default: none). */
  readonly maxBytes?: number;
  /** Ends the message of that error. */
  readonly advice?: string;
}

/**
 * What {@link bodyOfAtMost} reads with, `onData` called as each chunk arrives (exported for tests). A body that
 * turns out longer than announced goes on as chunks; a shorter one (a length the server gave for
 * another encoding) is what arrived. Past `maxBytes` the download is cancelled.
 */
export async function readResponseBytes(response: Response, url: string, onData: () => void, limits: ReadLimits = {}): Promise<Uint8Array> {
  const { firstAllocation = FIRST_ALLOCATION, maxBytes = Number.POSITIVE_INFINITY, advice = '' } = limits;
  const declared = declaredLength(response);
  if (declared !== undefined && declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge(url, declared, maxBytes, advice);
  }
  let filled = declared === undefined ? undefined : allocate(Math.min(declared, firstAllocation));
  let offset = 0;
  const chunks: Uint8Array[] = [];
  const reader = response.body?.getReader();
  try {
    for (let next = await reader?.read(); next && !next.done; next = await reader!.read()) {
      onData();
      const chunk = next.value;
      const end = offset + chunk.length;
      if (end > maxBytes) {
        await reader!.cancel().catch(() => {});
        throw tooLarge(url, undefined, maxBytes, advice);
      }
      if (filled && end > filled.length && declared !== undefined && end <= declared) {
        // As much has arrived as the first array holds, and the announced size is still right: grow once.
        const grown = allocate(declared);
        grown?.set(filled.subarray(0, offset));
        filled = grown ?? filled;
      }
      if (filled && end <= filled.length) {
        filled.set(chunk, offset);
      } else {
        if (filled) chunks.push(filled.subarray(0, offset));
        filled = undefined;
        chunks.push(chunk);
      }
      offset = end;
    }
  } catch (cause) {
    if (cause instanceof ModelLoadError) throw cause;
    throw new ModelLoadError(`Cannot fetch ${url}: the download broke off (${(cause as Error).message}).`, { path: url, cause });
  }
  if (filled) return offset === filled.length ? filled : filled.slice(0, offset);
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
}

/**
 * The body's length in bytes as the server declared it, when the body arrives as sent: not
 * encoded, and not a cross-origin response in a browser, where a `content-encoding` the server
 * does not expose would go unseen.
 */
function declaredLength(response: Response): number | undefined {
  if (response.type === 'cors' || response.type === 'opaque') return undefined;
  const encoding = response.headers.get('content-encoding');
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') return undefined;
  const text = response.headers.get('content-length');
  if (text === null || !/^\s*\d+\s*$/.test(text)) return undefined;
  const length = Number(text);
  return Number.isSafeInteger(length) ? length : undefined;
}

/** The error for a file past its size limit. */
export function tooLarge(path: string, size: number | undefined, limit: number, advice: string): ModelLoadError {
  const tail = advice === '' ? '.' : `: ${advice}.`;
  const what = size === undefined ? `${path} is larger than` : `${path} has ${bytesText(size)}, more than`;
  return new ModelLoadError(`${what} the ${bytesText(limit)} Weft reads for it${tail}`, { path });
}

/** `n` bytes for a message: in MiB when it is a whole number of them, else exactly. */
function bytesText(n: number): string {
  return n >= 2 ** 20 && n % 2 ** 20 === 0 ? `${n / 2 ** 20} MiB` : `${n} bytes`;
}

/** A zeroed array of `length` bytes, or undefined when it cannot be had at once (then the body is read as chunks). */
function allocate(length: number): Uint8Array | undefined {
  try {
    return new Uint8Array(length);
  } catch {
    return undefined;
  }
}
