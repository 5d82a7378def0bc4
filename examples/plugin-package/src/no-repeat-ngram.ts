import { InvalidOptionsError, type LogitsContext, type LogitsProcessor } from '@weft/core';

/** Which ids make up the history whose n-grams may not repeat. */
export type NoRepeatScope = 'all' | 'generated';

/** Options of the `no-repeat-ngram` processor. */
export interface NoRepeatNgramOptions {
  /** Length of the n-grams that may not occur twice (a whole number >= 1; default 3). 1 bans every id already seen. */
  readonly size?: number;
  /**
   * `'all'` (default, as Hugging Face's `no_repeat_ngram_size`): the prompt's n-grams count too.
   * `'generated'`: only n-grams made wholly of generated ids count, so the output may quote the prompt.
   */
  readonly scope?: NoRepeatScope;
}

/** The processor's name, in the registry and in errors. */
export const NO_REPEAT_NGRAM = 'no-repeat-ngram';
export const DEFAULT_SIZE = 3;
const SCOPES: readonly NoRepeatScope[] = ['all', 'generated'];
const OPTION_NAMES = ['size', 'scope'];

/**
 * Checks `options` as a request or a `--processor no-repeat-ngram:…` flag passes them (unchecked,
 * any values): an `InvalidOptionsError` that names the option for anything else.
 */
export function readNoRepeatNgramOptions(options: unknown): { readonly size: number; readonly scope: NoRepeatScope } {
  if (options === undefined || options === null) return { size: DEFAULT_SIZE, scope: 'all' };
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionsError(`${NO_REPEAT_NGRAM}: options must be an object such as { size: 3 } (got ${show(options)}).`, { option: 'options' });
  }
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!OPTION_NAMES.includes(key)) {
      throw new InvalidOptionsError(`${NO_REPEAT_NGRAM}: unknown option "${key}" (it takes ${OPTION_NAMES.join(' and ')}).`, { option: key });
    }
  }
  const size = given['size'] === undefined ? DEFAULT_SIZE : given['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1) {
    throw new InvalidOptionsError(`${NO_REPEAT_NGRAM}: option "size" must be a whole number >= 1 (got ${show(size)}).`, { option: 'size' });
  }
  const scope = given['scope'] === undefined ? 'all' : given['scope'];
  if (!SCOPES.includes(scope as NoRepeatScope)) {
    throw new InvalidOptionsError(`${NO_REPEAT_NGRAM}: option "scope" must be "all" or "generated" (got ${show(scope)}).`, { option: 'scope' });
  }
  return { size, scope: scope as NoRepeatScope };
}

const show = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));

const NONE: ReadonlySet<number> = new Set();

/**
 * One row's index of the n-grams seen so far: for each (n-1)-token prefix, the ids that followed it.
 * It takes in only the ids added since the last step.
 */
class RowIndex {
  private readonly followers = new Map<string, Set<number>>();
  /** How many ids of the row's history the index holds (every n-gram ending before this position). */
  private indexed = 0;

  constructor(
    /** The prompt this index was built for (by identity: a new prompt array starts a new index). */
    readonly promptIds: readonly number[],
    private readonly size: number,
    /** Whether the prompt's ids are part of the history. */
    private readonly withPrompt: boolean,
  ) {}

  /** Whether `context` continues the history indexed so far (the same prompt; generated ids only added). */
  continues(context: LogitsContext): boolean {
    return context.promptIds === this.promptIds && this.historyLength(context) >= this.indexed;
  }

  /** The ids that would complete an n-gram already in the history, after taking in the new ids. */
  banned(context: LogitsContext): ReadonlySet<number> {
    const n = this.size;
    const length = this.historyLength(context);
    const at = this.withPrompt ? historyAt(context) : (i: number) => context.generatedIds[i]!;
    for (let end = Math.max(this.indexed, n - 1); end < length; end++) {
      const key = keyOf(at, end - n + 1, end);
      let next = this.followers.get(key);
      if (next === undefined) this.followers.set(key, (next = new Set()));
      next.add(at(end));
    }
    this.indexed = length;
    if (length < n - 1) return NONE;
    return this.followers.get(keyOf(at, length - n + 1, length)) ?? NONE;
  }

  private historyLength(context: LogitsContext): number {
    return (this.withPrompt ? context.promptIds.length : 0) + context.generatedIds.length;
  }
}

/** Id `i` of prompt + generated ids, without concatenating them. */
function historyAt({ promptIds, generatedIds }: LogitsContext): (i: number) => number {
  const p = promptIds.length;
  return (i) => (i < p ? promptIds[i]! : generatedIds[i - p]!);
}

/** The key of the ids at positions [from, to): they joined by commas ('' for none, as with size 1). */
function keyOf(at: (i: number) => number, from: number, to: number): string {
  let key = '';
  for (let i = from; i < to; i++) key += i === from ? `${at(i)}` : `,${at(i)}`;
  return key;
}

/**
 * A logits processor that bans, for each row, every token that would complete an n-gram of `size`
 * tokens already in that row's history (prompt + generated ids, or only the generated ones with
 * `scope: 'generated'`), as Hugging Face's `no_repeat_ngram_size` does. Rows of a batch are
 * independent. Each row keeps an index of its n-grams and takes in only the ids added since the
 * step before, so a step costs O(size) plus the banned ids, not a scan of the history.
 *
 * One instance serves one request (Weft creates one per request); it may also be used directly,
 * e.g. `new NoRepeatNgramProcessor({ size: 2 }).process(logits, { row: 0, step, promptIds, generatedIds })`.
 * The index of a row starts again when its `promptIds` is another array or its history got shorter.
 */
export class NoRepeatNgramProcessor implements LogitsProcessor {
  readonly name = NO_REPEAT_NGRAM;
  readonly size: number;
  readonly scope: NoRepeatScope;
  private readonly rows = new Map<number, RowIndex>();

  /** Throws an `InvalidOptionsError` naming the option for a bad `size` or `scope`, or an unknown option. */
  constructor(options?: NoRepeatNgramOptions) {
    const { size, scope } = readNoRepeatNgramOptions(options);
    this.size = size;
    this.scope = scope;
  }

  /**
   * The ids `process` sets to -Infinity for this row at this step (those that would repeat an n-gram).
   * The set is the index's own, not a copy: it is valid until the next call (which may add to it);
   * copy it (`[...set]`) to keep it, and never change it.
   */
  bannedIds(context: LogitsContext): ReadonlySet<number> {
    let index = this.rows.get(context.row);
    if (index === undefined || !index.continues(context)) {
      index = new RowIndex(context.promptIds, this.size, this.scope === 'all');
      this.rows.set(context.row, index);
    }
    return index.banned(context);
  }

  process(logits: Float32Array, context: LogitsContext): void {
    for (const id of this.bannedIds(context)) if (id >= 0 && id < logits.length) logits[id] = Number.NEGATIVE_INFINITY;
  }
}

/** The processor as a function of its options (what the registry entry's `create` calls). */
export const noRepeatNgramProcessor = (options?: NoRepeatNgramOptions): NoRepeatNgramProcessor => new NoRepeatNgramProcessor(options);
