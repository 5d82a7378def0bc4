import type { DoneEvent } from '@weft/core';
import { fixed, perSecond } from './format.js';

/**
 * `[42 tokens, 130.2 tokens/s, ttft 4.1 ms, 7.6 ms/token, finish eos]` for stderr. Every figure
 * comes from the done event: tokens/s is `usage.completionTokens / durationMs * 1000`, so a program
 * reading the event gets the same number. `extra` parts follow the finish reason (`chat`'s
 * `57 prompt tokens cached`).
 */
export function statsLine(done: DoneEvent, extra: readonly string[] = []): string {
  const tokens = done.usage.completionTokens;
  return (
    `[${tokens} token${tokens === 1 ? '' : 's'}, ${fixed(perSecond(tokens, done.durationMs))} tokens/s, ` +
    `ttft ${fixed(done.ttftMs)} ms, ${fixed(done.msPerToken, 2)} ms/token, finish ${done.finishReason}${extra.map((part) => `, ${part}`).join('')}]`
  );
}
