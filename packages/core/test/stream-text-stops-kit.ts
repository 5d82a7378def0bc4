import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HfTokenizer, type FinishReason, type Tokenizer } from '../src/index.js';
import { RowState } from '../src/generation/row-state.js';
import type { FamilyFiles } from './tokenizer-family-fixtures.js';

/** What the stop-string tests share: tokenizers from a model folder or a family fixture, a reference cut, a row driver. */

export const load = (dir: string): HfTokenizer =>
  new HfTokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')));
export const build = (f: FamilyFiles): HfTokenizer => new HfTokenizer(structuredClone(f.tokenizerJson), structuredClone(f.tokenizerConfig));

/**
 * Where a stream of `text` stops: at the stop string completed first (the occurrence that ends
 * first; of those ending together, the longest). -1 when none occurs.
 */
export function stopCut(text: string, stops: readonly string[]): number {
  let end = Infinity;
  let cut = -1;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at < 0) continue;
    if (at + stop.length < end || (at + stop.length === end && at < cut)) {
      end = at + stop.length;
      cut = at;
    }
  }
  return cut;
}

/** Drives a row with `ids` until it ends (or they run out, then `end`); every delta, the last from `finish`. */
export function drive(tokenizer: Tokenizer, ids: readonly number[], stops: readonly string[], end: FinishReason = 'length', prompt: readonly number[] = []) {
  const row = new RowState(0, prompt, tokenizer, stops);
  const deltas: string[] = [];
  for (const id of ids) {
    if (!row.active) break;
    deltas.push(row.accept(id));
  }
  const flushed = row.finish(end);
  return { row, deltas, flushed };
}

/**
 * The stop completed first in `text` (ends first; of those ending together, the longest), never
 * cutting into a special token's content (`contents`: [start, end) of each in `text`).
 */
export function firstStop(text: string, stops: readonly string[], contents: readonly (readonly [number, number])[]): { start: number; end: number } | undefined {
  const whole = (start: number, end: number) => contents.every(([s, e]) => end <= s || start >= e || (start <= s && end >= e));
  let best: { start: number; end: number } | undefined;
  for (const stop of stops) {
    for (let at = text.indexOf(stop); at >= 0; at = text.indexOf(stop, at + 1)) {
      const end = at + stop.length;
      if (!whole(at, end)) continue;
      if (!best || end < best.end || (end === best.end && at < best.start)) best = { start: at, end };
      break;
    }
  }
  return best;
}

/** `text` before `stop` (an offset in it) without the special tokens' contents, as a row's text is. */
export function textBefore(text: string, contents: readonly (readonly [number, number])[], stop: number): string {
  let out = '';
  let at = 0;
  for (const [start, end] of contents) {
    if (start >= stop) break;
    out += text.slice(at, start);
    at = end;
  }
  return out + text.slice(at, Math.max(at, stop));
}
