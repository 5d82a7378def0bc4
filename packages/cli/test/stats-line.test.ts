import { describe, expect, it } from 'vitest';
import type { DoneEvent } from '@weft/core';
import { statsLine } from '../src/output/stats-line.js';

/** A done event of `tokens` tokens over `durationMs`. */
const finished = (tokens: number, durationMs: number): DoneEvent => ({
  type: 'done',
  finishReason: 'length',
  usage: { promptTokens: 3, completionTokens: tokens, totalTokens: tokens + 3 },
  ttftMs: 4.06,
  msPerToken: 7.625,
  durationMs,
  kvBytes: 0,
  rows: [],
});

describe('the stats line of weft generate and weft demo', () => {
  it('takes tokens/s from the done event: completionTokens / durationMs * 1000', () => {
    // A program reading the event computes the same figure the line prints.
    expect(statsLine(finished(42, 322.58))).toBe('[42 tokens, 130.2 tokens/s, ttft 4.1 ms, 7.63 ms/token, finish length]');
    expect(statsLine(finished(1, 500))).toBe('[1 token, 2.0 tokens/s, ttft 4.1 ms, 7.63 ms/token, finish length]');
    expect(statsLine(finished(0, 0))).toBe('[0 tokens, 0.0 tokens/s, ttft 4.1 ms, 7.63 ms/token, finish length]');
  });
});
