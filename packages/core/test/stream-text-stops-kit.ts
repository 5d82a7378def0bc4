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
