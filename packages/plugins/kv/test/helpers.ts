import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@weft/backend-node';
import { createWeft, type AttentionRouter, type KvSelection, type WeftPlugin } from '@weft/core';
import { kvCompressors } from '../src/index.js';

export { collect, done } from '../../../core/test/events.js';

export const storyModel = fileURLToPath(new URL('../../../../models/story', import.meta.url));
export const tinyModel = fileURLToPath(new URL('../../../core/test/fixtures/tiny', import.meta.url));

/** A runtime with the node backend (one thread) and the compressors, plus `plugins`. */
export function runtime(plugins: readonly WeftPlugin[] = [kvCompressors()]) {
  return createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } }), ...plugins] });
}

/** Keeps the newest `window` slots, shared by every head. */
export const windowRouter = (window: number): AttentionRouter => ({
  specificationVersion: 'v1',
  name: 'w',
  select: ({ cacheLength }): KvSelection | undefined =>
    cacheLength > window ? { kind: 'shared', slots: Array.from({ length: window }, (_, i) => cacheLength - window + i) } : undefined,
});

/**
 * Per head: head h keeps the newest `window + 1` slots except the (h + 1)-th newest but one, so
 * every head keeps `window` slots at different positions (batch 1 only).
 */
export const perHeadWindowRouter = (window: number): AttentionRouter => ({
  specificationVersion: 'v1',
  name: 'w-per-head',
  select: ({ cacheLength, layout }): KvSelection | undefined => {
    if (cacheLength <= window) return undefined;
    const recent = Array.from({ length: window + 1 }, (_, i) => cacheLength - window - 1 + i);
    return { kind: 'per-head', slots: Array.from({ length: layout.numKvHeads }, (_, h) => recent.filter((_, i) => i !== window - 1 - h)) };
  },
});
