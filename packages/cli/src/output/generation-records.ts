import type { DoneEvent, FailoverEvent, StartEvent, WeftModel } from '@weft/core';
import type { CliIo } from '../io.js';
import type { GenerationHandlers } from './consume-generation.js';
import { round } from './format.js';
import type { OpenLine } from './open-line.js';
import { terminalSafe } from './terminal-text.js';

/** What `generate` and `chat` stream one generation through: JSON records, or text and notes. */
export interface StreamOutput {
  readonly io: CliIo;
  /** `--json`: one record per event on stdout; else the text, with notes on stderr. */
  readonly json: boolean;
  /** Writes one JSON record (a line) to stdout. */
  readonly write: (record: object) => void;
  /** Writes generated text to stdout (shown safely on a terminal unless `--raw`). */
  readonly writeText: (text: string) => void;
  /** The stdout line the text leaves open. */
  readonly line: OpenLine;
  /** Fields every JSON record carries after its `type` (`chat`'s `turn`). */
  readonly fields?: Readonly<Record<string, unknown>>;
  /** Called with `start` and `failover` events before they are written (the notes a request gets). */
  readonly onStartOrFailover?: (event: StartEvent | FailoverEvent) => void;
  /** Analysis events per analyzer, counted in text mode (which has no place for them) for {@link analyzerNote}. */
  readonly analyzed: Map<string, number>;
}

/**
 * The handlers that stream a generation as `generate` and `chat` show it, and the text streamed
 * so far (`streamed()`), which {@link doneRecords} needs.
 */
export function streamHandlers(out: StreamOutput): { readonly handlers: GenerationHandlers; readonly streamed: () => string } {
  const { io, write, fields = {} } = out;
  let streamed = '';
  const handlers: GenerationHandlers = out.json
    ? {
        onToken: (e) => {
          streamed += e.text;
          write({ type: 'token', ...fields, id: e.id, text: e.text });
        },
        onEvent: (e) => {
          out.onStartOrFailover?.(e);
          if (e.type === 'start') write({ type: 'backend', ...fields, backend: e.backend, rejected: e.rejectedBackends });
          else write({ type: 'failover', ...fields, step: e.step, from: e.from, to: e.to, reason: e.reason });
        },
        onAnalysis: (e) => write({ type: 'analysis', ...fields, analyzer: e.analyzer, step: e.step, data: plainData(e.data) }),
      }
    : {
        onText: (text) => {
          out.writeText(text);
          out.line.wrote(text);
        },
        onAnalysis: (e) => void out.analyzed.set(e.analyzer, (out.analyzed.get(e.analyzer) ?? 0) + 1),
        onEvent: (e) => {
          out.onStartOrFailover?.(e);
          if (e.type === 'failover') {
            const text = `[weft: ${e.from} failed at step ${e.step} (${e.reason}); continuing on ${e.to}]`;
            io.stderr.write(`${io.stderr.isTTY === true ? terminalSafe(text) : text}\n`);
          }
        },
      };
  return { handlers, streamed: () => streamed };
}

/**
 * The records that end a generation in `--json`: a `text` record with what the loop held back and
 * released at the end (token texts plus it always add up to `done.text`), then `done`.
 */
export function doneRecords(out: Pick<StreamOutput, 'write' | 'fields'>, model: WeftModel, done: DoneEvent, streamed: string, extra: Readonly<Record<string, unknown>> = {}): void {
  const { write, fields = {} } = out;
  const row = done.rows[0]!;
  const rest = row.text.slice(streamed.length);
  if (rest !== '') write({ type: 'text', ...fields, text: rest });
  write({
    type: 'done',
    ...fields,
    ids: row.ids,
    text: row.text,
    finishReason: row.finishReason,
    promptTokens: row.usage.promptTokens,
    completionTokens: row.usage.completionTokens,
    ...extra,
    ttftMs: round(done.ttftMs),
    msPerToken: round(done.msPerToken),
    durationMs: round(done.durationMs),
    backend: model.backend,
    rejectedBackends: model.rejectedBackends,
    kvBytes: done.kvBytes,
  });
}

/** The note that `--analyzer` output was counted but not shown (text mode), or undefined when there was none. */
export function analyzerNote(analyzed: ReadonlyMap<string, number>): string | undefined {
  if (analyzed.size === 0) return undefined;
  const counts = [...analyzed].map(([name, n]) => `${n} from ${name}`).join(', ');
  return `weft: note: --analyzer output (${counts}) is printed only with --json, as {"type":"analysis",...} lines`;
}

/** An analyzer's data as JSON shows it: typed arrays as arrays (JSON.stringify writes them as objects keyed by index). */
export function plainData(data: unknown): unknown {
  try {
    const text = JSON.stringify(data, (_key, value: unknown) => (ArrayBuffer.isView(value) && !(value instanceof DataView) ? Array.from(value as unknown as ArrayLike<number>) : value));
    return text === undefined ? null : JSON.parse(text);
  } catch (error) {
    // BigInts, cycles: what it is, rather than ending the run.
    return `(not JSON: ${(error as Error).message})`;
  }
}
