import { describe, expect, it } from 'vitest';
import { stepFeeds, type BackendTensor, type InferenceSession, type KvLayout } from '../src/index.js';

const layout = { hasAttentionMask: true, hasPositionIds: true } as KvLayout;
const session = { createTensor: (type: string, data: unknown, dims: readonly number[]) => ({ type, data, dims: [...dims], dispose() {} }) as unknown as BackendTensor } as Pick<InferenceSession, 'createTensor'>;
const values = (t: BackendTensor | undefined) => [...(t!.data as BigInt64Array)].map(Number);

describe('stepFeeds (masks and positions after eviction, hand-computed)', () => {
  it('masks padding wherever it sits and counts positions from each row’s first real token', () => {
    // Row 0 has 2 padding positions, row 1 none. A router kept absolute slots 1, 3 and 4 (slot 1
    // is padding in row 0); 6 tokens were fed so far; one new token per row.
    const feeds = stepFeeds(session, layout, [[7], [8]], [2, 0], { slotPositions: [1, 3, 4], nextPosition: 6 });
    expect(feeds['attention_mask']!.dims).toEqual([2, 4]);
    expect(values(feeds['attention_mask'])).toEqual([0, 1, 1, 1, 1, 1, 1, 1]);
    // Absolute: the new token is the 5th real token of row 0 (index 4) and the 7th of row 1.
    expect(values(feeds['position_ids'])).toEqual([4, 6]);
    expect(values(feeds['input_ids'])).toEqual([7, 8]);
  });

  it('numbers new tokens within the cache in cache mode (StreamingLLM)', () => {
    const feeds = stepFeeds(session, layout, [[7], [8]], [2, 0], { slotPositions: [1, 3, 4], nextPosition: 6, positionMode: 'cache' });
    // Row 0 holds 2 real cached tokens (3 and 4), row 1 holds 3.
    expect(values(feeds['position_ids'])).toEqual([2, 3]);
    expect(values(feeds['attention_mask'])).toEqual([0, 1, 1, 1, 1, 1, 1, 1]);
  });

  it('masks the padding of a left-padded prefill and starts each row at position 0', () => {
    const feeds = stepFeeds(session, layout, [[5, 6, 7], [0, 0, 9]], [0, 2], { slotPositions: [], nextPosition: 0 });
    expect(values(feeds['attention_mask'])).toEqual([1, 1, 1, 0, 0, 1]);
    expect(values(feeds['position_ids'])).toEqual([0, 1, 2, 0, 0, 0]);
  });

  it('gives unpadded steps a mask of ones that padded steps never write into', () => {
    const plain = () => stepFeeds(session, layout, [[7], [8]], [0, 0], { slotPositions: [], pastLength: 5, nextPosition: 5 });
    expect(values(plain()['attention_mask'])).toEqual(new Array(12).fill(1));
    stepFeeds(session, layout, [[7], [8]], [3, 0], { slotPositions: [0, 1, 2, 3, 4], nextPosition: 5 }); // masks row 0's padding
    const again = plain()['attention_mask']!;
    expect(again.dims).toEqual([2, 6]);
    expect(values(again)).toEqual(new Array(12).fill(1));
  });

  it('feeds no mask or positions to graphs without those inputs', () => {
    const feeds = stepFeeds(session, { hasAttentionMask: false, hasPositionIds: false } as KvLayout, [[5]], [0], { slotPositions: [], pastLength: 3, nextPosition: 3 });
    expect(Object.keys(feeds)).toEqual(['input_ids']);
  });
});

describe('stepFeeds for merged decoders (use_cache_branch)', () => {
  const merged = { ...layout, useCacheBranch: { dims: [1] } } as KvLayout;
  const flag = (t: BackendTensor | undefined) => ({ type: t!.type, dims: t!.dims, value: [...(t!.data as Uint8Array)] });

  it('feeds false with an empty past and true once anything is cached, in the declared dims', () => {
    const prefill = stepFeeds(session, merged, [[5, 6, 7]], [0], { slotPositions: [], nextPosition: 0 });
    expect(flag(prefill['use_cache_branch'])).toEqual({ type: 'bool', dims: [1], value: [0] });
    const counted = stepFeeds(session, merged, [[8]], [0], { slotPositions: [], pastLength: 3, nextPosition: 3 });
    expect(flag(counted['use_cache_branch'])).toEqual({ type: 'bool', dims: [1], value: [1] });
    const evicted = stepFeeds(session, merged, [[8], [9]], [1, 0], { slotPositions: [1, 3], nextPosition: 4 });
    expect(flag(evicted['use_cache_branch'])).toEqual({ type: 'bool', dims: [1], value: [1] });
    const scalar = stepFeeds(session, { ...merged, useCacheBranch: { dims: [] } }, [[5]], [0], { slotPositions: [], nextPosition: 0 });
    expect(scalar['use_cache_branch']!.dims).toEqual([]);
  });

  it('feeds no use_cache_branch to graphs without it', () => {
    const feeds = stepFeeds(session, layout, [[8]], [0], { slotPositions: [], pastLength: 3, nextPosition: 3 });
    expect(feeds['use_cache_branch']).toBeUndefined();
  });
});
