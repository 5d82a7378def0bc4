/** Why a row (or the run) ended. */
export type FinishReason = 'eos' | 'length' | 'stop' | 'abort';

/** Token counts of a row, or summed over a batch's rows. */
export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
}

/**
 * Emitted once, before the first forward pass, once the request has passed every check: its
 * fields, prompt ids against the vocabulary and the context, stop strings, and the components it
 * names (created with their options, the KV store begun). An error before `start` is therefore
 * the request's (`InvalidOptionsError`, `ContextOverflowError`) or a component's set-up
 * (`PluginError`); after it, only the run fails (a backend, a plugin stage). A server can hold
 * its response until `start` and answer an error before it as a bad request.
 */
export interface StartEvent {
  readonly type: 'start';
  readonly backend: string;
  /** Backends passed over when the model's backend was chosen (`auto` or by name), and why. */
  readonly rejectedBackends: readonly { readonly name: string; readonly reason: string }[];
  readonly batchSize: number;
  /** Prompt ids per row, as fed to the model (before padding): copies, so editing them changes nothing in the run. */
  readonly promptIds: readonly (readonly number[])[];
  /** The run's KV store, by its `name` (`fp32` unless the request or a plugin's default names another). */
  readonly kv: string;
  /**
   * The run's attention router, by its `name` (the request's, or the runtime's default from a
   * plugin such as `sinkWindow()`); `undefined` when the run has none (the full cache is attended).
   */
  readonly router?: string | undefined;
  /**
   * The most tokens a row may generate in this run: the request's `maxTokens` (or the default),
   * capped so that the longest prompt plus its output fit the model's context. Smaller than what
   * was asked when the cap applied, so a `length` finish can be told apart from reaching `maxTokens`.
   */
  readonly maxTokens: number;
  /**
   * Prompt tokens the run took from the request's `promptCache` instead of feeding them (0 without
   * a cache, or when it held nothing this prompt starts with).
   */
  readonly cachedTokens: number;
}

/** One generated token. `text` is the row's new text (may be empty while UTF-8 or a stop string is pending). */
export interface TokenEvent {
  readonly type: 'token';
  readonly row: number;
  /** Position among the row's generated tokens, from 0. */
  readonly index: number;
  readonly id: number;
  readonly text: string;
  /**
   * Natural log of the model's probability for this token (before any processing). Of a row that
   * is not all finite, as the picks read it: NaN logits have probability 0, and +Infinity ones
   * share all of it. Computed when first read: until then the event holds its row's logits (one
   * vocabulary of float32), which reading it, or dropping the event, frees.
   */
  readonly logprob: number;
}

/**
 * Text a row held back (an unfinished UTF-8 character, the possible start of a stop string, or a
 * space that a clean-up of spaces may still remove) and released when the row ended by `eos`,
 * `length` or `abort`. Where that text completes a stop string it is cut there, and the row ends
 * with `stop` (unless aborted). A row's token texts plus its flush text equal its `done` text.
 * Comes after the row's last token event, before `done`.
 */
export interface FlushEvent {
  readonly type: 'flush';
  readonly row: number;
  readonly text: string;
}

/** Timing of one step, in milliseconds. */
export interface MetricsEvent {
  readonly type: 'metrics';
  readonly step: number;
  /**
   * Positions fed per row in this step: the longest prompt (padding included) at step 0, then 1.
   * Graphs without past inputs are fed every id so far each step, and the step after a failover
   * re-feeds everything to the new backend.
   */
  readonly inputTokens: number;
  /** The backend's `run`, from the call until its outputs are back. */
  readonly forwardMs: number;
  /** Building past feeds (with any key re-rotation), handing presents to the KV store, and the router's selection. */
  readonly kvMs: number;
  /**
   * Picking every row's token (penalties, processors, sampling). When no analyzer, router or
   * `afterForward` hook observes the step, it starts where the forward pass ends, so it also holds
   * the release of the step's inputs (well under a microsecond).
   */
  readonly samplingMs: number;
  /** Detokenizing, stop strings, and emitting the step's token (and flush) events. */
  readonly detokenizeMs: number;
  /** The KV store's bytes after this step. */
  readonly kvBytes: number;
  /**
   * Step 0 only: from the start of the run (inside `subscribe`, after RxJS has set up the
   * subscriber) to the start of the first forward pass (request checks,
   * components, KV store `begin`, the first feeds, past ones included). With step 0's
   * `forwardMs`, `samplingMs` and `detokenizeMs` it accounts for nearly all of the time to the
   * first token.
   */
  readonly setupMs?: number;
}

/** Data an analyzer returned for a step; `TData` is its shape (see `analysesOf` and `isAnalysisOf`). */
export interface AnalysisEvent<TData = unknown> {
  readonly type: 'analysis';
  /** The analyzer's `name`. */
  readonly analyzer: string;
  readonly step: number;
  /** What the analyzer's `observe` returned for this step (its own shape). */
  readonly data: TData;
}

/** How one row of a request ended, in `done.rows`. */
export interface RowResult {
  /** The row's index in the request's prompts. */
  readonly row: number;
  /**
   * The ids the row generated: with `stop`, up to the one that completed the stop string (any
   * text it has after the stop is dropped; where spaces are cleaned up, a stop's trailing space
   * counts once the next id shows that it stays). The end-of-sequence id that ended a row is not
   * among them.
   */
  readonly ids: readonly number[];
  /** The row's token and flush texts joined: the text its ids add to the prompt's (special tokens skipped), up to a stop string. */
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly usage: Usage;
}

/** Last event. For one row the top-level fields are that row's; for a batch usage is summed. */
export interface DoneEvent {
  readonly type: 'done';
  /**
   * Why the run ended. For a batch: `abort` if it was aborted, else the reason of the row that
   * finished last (the lowest row index among rows finishing on the same step); each row's own
   * reason is in `rows`.
   */
  readonly finishReason: FinishReason;
  readonly usage: Usage;
  /** Subscription to first token. */
  readonly ttftMs: number;
  /** Median wall time per decode step after the first token. */
  readonly msPerToken: number;
  /**
   * Wall time of the whole run, in milliseconds: from its start inside `subscribe` (the origin of
   * `ttftMs`) to this event, so it holds the request's checks and set-up, the prefill and every
   * step (the last one's KV append included). Tokens per second, as `weft generate` prints them:
   * `usage.completionTokens / durationMs * 1000`.
   */
  readonly durationMs: number;
  readonly kvBytes: number;
  readonly rows: readonly RowResult[];
}

/** The stream moved to another backend after `from` failed; generated tokens are re-fed as a prefill. */
export interface FailoverEvent {
  readonly type: 'failover';
  readonly step: number;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

/**
 * What `model.generate` emits, in order: `start`; per step `analysis` (if any), then per row
 * `token` (and `flush` when a row ends with held-back text), then `metrics`; `failover` when a run
 * moves to another backend; `done` last. Narrow on `type`.
 */
export type GenerationEvent = StartEvent | TokenEvent | FlushEvent | MetricsEvent | AnalysisEvent | FailoverEvent | DoneEvent;
