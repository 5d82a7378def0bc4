import type { Subscriber } from 'rxjs';
import type { DoneEvent, FinishReason, GenerationEvent, RowResult } from '../spec/events.js';
import type { RowState } from './row-state.js';

/** Emits the text a row released when it ended, if any. */
export function flush(out: Subscriber<GenerationEvent>, row: RowState, text: string): void {
  if (text !== '') out.next({ type: 'flush', row: row.row, text });
}


/** The `done` event of a run's rows: the batch's finish reason and usage, and each row's result. */
export function doneEvent(rows: readonly RowState[], ttftMs: number, msPerToken: number, kvBytes: number, durationMs: number): DoneEvent {
  const results: RowResult[] = rows.map((row) => {
    const usage = { promptTokens: row.promptIds.length, completionTokens: row.generated.length, totalTokens: row.promptIds.length + row.generated.length };
    return { row: row.row, ids: row.generated, text: row.text, finishReason: row.finishReason ?? 'length', usage };
  });
  const sum = (k: 'promptTokens' | 'completionTokens' | 'totalTokens'): number => results.reduce((s, r) => s + r.usage[k], 0);
  const aborted = results.some((r) => r.finishReason === 'abort');
  // A batch ended with the row that finished last (the first such row when several did).
  let last = rows[0]!;
  for (const row of rows) if (row.endedAtStep > last.endedAtStep) last = row;
  const finishReason: FinishReason = aborted ? 'abort' : last.finishReason ?? 'length';
  return {
    type: 'done',
    finishReason,
    usage: { promptTokens: sum('promptTokens'), completionTokens: sum('completionTokens'), totalTokens: sum('totalTokens') },
    ttftMs,
    msPerToken,
    durationMs,
    kvBytes,
    rows: results,
  };
}
