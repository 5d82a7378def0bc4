import type { AttentionRouter, KvSelection } from '../src/index.js';

/**
 * A router instance that keeps the newest `window` slots, numbering positions within the cache
 * (`cache`, StreamingLLM) or absolutely. Passed in a request, it is claimed by the run.
 */
export const windowRouter = (window: number, positions: 'absolute' | 'cache'): AttentionRouter => ({
  specificationVersion: 'v1',
  name: `window-${window}`,
  positions,
  select: ({ cacheLength }): KvSelection | undefined =>
    cacheLength <= window ? undefined : { kind: 'shared', slots: Array.from({ length: window }, (_, i) => cacheLength - window + i) },
});
