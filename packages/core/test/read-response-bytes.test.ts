import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../src/index.js';
import { readResponseBytes } from '../src/model/model-folder.js';

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

  it('fails with a ModelLoadError naming the URL when the body ends short of the announced length', async () => {
    const error = await readResponseBytes(response(pieces, { 'content-length': '1200' }), 'http://x/m.onnx', () => {}).catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe('Cannot fetch http://x/m.onnx: the download broke off (1000 of the 1200 bytes the server announced).');
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
