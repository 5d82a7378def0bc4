import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../src/index.js';
import { readResponseBytes } from '../src/model/read-response-bytes.js';

/** A response whose body arrives as `pieces`, with the given headers. */
function response(pieces: readonly Uint8Array[], headers: Record<string, string>): Response {
  const queue = [...pieces];
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
  return new Response(body, { headers });
}

const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) % 251);
const pieces = [bytes.subarray(0, 1), bytes.subarray(1, 300), bytes.subarray(300, 301), bytes.subarray(301)];

describe('reading a response body', () => {
  it('fills one array of the announced length, calling onData per chunk', async () => {
    let calls = 0;
    const out = await readResponseBytes(response(pieces, { 'content-length': '1000' }), 'http://x/m.onnx', () => calls++);
    expect(out).toEqual(bytes);
    expect(calls).toBe(4);
    // One array of exactly the body's size, none of the chunks' own buffers.
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(1000);
    for (const p of pieces) expect(out.buffer).not.toBe(p.buffer);
  });

  it('keeps every byte in order when the body is longer than announced', async () => {
    for (const announced of ['0', '1', '299', '300', '999']) {
      expect(await readResponseBytes(response(pieces, { 'content-length': announced }), 'http://x/m.onnx', () => {})).toEqual(bytes);
    }
  });

  it('returns what arrived when the body is shorter than announced (a length given for another encoding)', async () => {
    const out = await readResponseBytes(response(pieces, { 'content-length': '1200' }), 'http://x/m.onnx', () => {});
    expect(out).toEqual(bytes);
    expect(out.buffer.byteLength).toBe(1000);
  });

  it('allocates at most firstAllocation for the announced length until that much has arrived, then grows once', async () => {
    // Announced 1000, first array 300: pieces of 1 and 299 fill it, the 1-byte piece grows it to 1000.
    expect(await readResponseBytes(response(pieces, { 'content-length': '1000' }), 'http://x/m.onnx', () => {}, { firstAllocation: 300 })).toEqual(bytes);
    expect((await readResponseBytes(response(pieces, { 'content-length': '1000' }), 'http://x/m.onnx', () => {}, { firstAllocation: 300 })).buffer.byteLength).toBe(1000);
    // A body that stops early never grows past the first array: a header alone buys nothing.
    const early = await readResponseBytes(response([bytes.subarray(0, 10)], { 'content-length': String(2 ** 31) }), 'http://x/m.onnx', () => {}, { firstAllocation: 64 });
    expect(early).toEqual(bytes.subarray(0, 10));
    expect(early.buffer.byteLength).toBe(10);
  });

  it('fails with a ModelLoadError naming the URL when the connection breaks mid-body', async () => {
    let sent = false;
    const broken = new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) controller.error(new Error('terminated'));
          else controller.enqueue(bytes.subarray(0, 100));
          sent = true;
        },
      }),
      { headers: { 'content-length': '1000' } },
    );
    const error = await readResponseBytes(broken, 'http://x/m.onnx', () => {}).catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe('Cannot fetch http://x/m.onnx: the download broke off (terminated).');
  });

  it('reads chunks when the length is missing, malformed or of an encoded body', async () => {
    const cases: Record<string, string>[] = [{}, { 'content-length': 'abc' }, { 'content-length': '1200', 'content-encoding': 'gzip' }, { 'content-length': '-5' }];
    for (const headers of cases) {
      expect(await readResponseBytes(response(pieces, headers), 'http://x/m.onnx', () => {})).toEqual(bytes);
    }
  });

  it('reads an empty body, with or without a length', async () => {
    expect(await readResponseBytes(response([], { 'content-length': '0' }), 'http://x/a', () => {})).toEqual(new Uint8Array());
    expect(await readResponseBytes(response([], {}), 'http://x/a', () => {})).toEqual(new Uint8Array());
  });
});
