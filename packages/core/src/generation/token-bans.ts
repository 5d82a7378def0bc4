import type { GenerationConfig } from '../model/generation-config.js';

/** A `bad_words_ids` sequence of two ids or more: `banned` is its last id, `before` the ids before it. */
interface BadWord {
  readonly before: Int32Array;
  readonly banned: number;
}

/** What generation_config.json bans, worked out once per model (see {@link compiledBans}). */
interface CompiledBans {
  /** `suppress_tokens` and the one-id `bad_words_ids` (less end-of-sequence ids). */
  readonly always: Int32Array;
  /** `begin_suppress_tokens`. */
  readonly atBegin: Int32Array;
  /** Longer `bad_words_ids` by the id just before their banned one; undefined when there are none. */
  readonly sequences: ReadonlyMap<number, readonly BadWord[]> | undefined;
  /** How many longer `bad_words_ids` there are. */
  readonly sequenceCount: number;
}

const compiled = new WeakMap<GenerationConfig, CompiledBans>();

/** The bans of `config`, compiled at its first run and kept for the model's life. */
function compiledBans(config: GenerationConfig): CompiledBans {
  let bans = compiled.get(config);
  if (bans) return bans;
  const always = new Set(config.suppressTokens);
  const sequences = new Map<number, BadWord[]>();
  let sequenceCount = 0;
  for (const words of config.badWordsIds) {
    if (words.length === 1) {
      // transformers' NoBadWordsLogitsProcessor drops a bare end-of-sequence id from the list.
      if (!config.eosTokenIds.includes(words[0]!)) always.add(words[0]!);
      continue;
    }
    const before = Int32Array.from(words.slice(0, -1));
    const key = before[before.length - 1]!;
    let list = sequences.get(key);
    if (!list) sequences.set(key, (list = []));
    list.push({ before, banned: words[words.length - 1]! });
    sequenceCount++;
  }
  bans = {
    always: Int32Array.from(always),
    atBegin: Int32Array.from(config.beginSuppressTokens),
    sequences: sequenceCount > 0 ? sequences : undefined,
    sequenceCount,
  };
  compiled.set(config, bans);
  return bans;
}

/**
 * One run's token bans: generation_config.json's `suppress_tokens`, `begin_suppress_tokens` and
 * `bad_words_ids`, and the end-of-sequence ids until `minTokens` new tokens (transformers'
 * SuppressTokens, SuppressTokensAtBegin, NoBadWords and MinNewTokens processors). {@link ban}
 * sets a row's banned logits to -Infinity, keeping the values it replaced, and {@link restore}
 * puts them back (greedy decoding bans in the model's own row, shared with analyzers and
 * logprobs). Neither allocates.
 */
export class TokenBans {
  /** The first step at which nothing is banned any more (Infinity: bans last the whole run). */
  readonly until: number;
  private readonly always: Int32Array;
  private readonly atBegin: Int32Array;
  private readonly eos: Int32Array;
  private readonly sequences: ReadonlyMap<number, readonly BadWord[]> | undefined;
  private readonly savedIds: Int32Array;
  private readonly savedValues: Float32Array;
  private saved = 0;

  private constructor(bans: CompiledBans, eos: Int32Array, private readonly minTokens: number) {
    this.always = bans.always;
    this.atBegin = bans.atBegin;
    this.eos = eos;
    this.sequences = bans.sequences;
    this.until = bans.always.length > 0 || bans.sequences ? Infinity : Math.max(bans.atBegin.length > 0 ? 1 : 0, eos.length > 0 ? minTokens : 0);
    const most = bans.always.length + bans.atBegin.length + eos.length + bans.sequenceCount;
    this.savedIds = new Int32Array(most);
    this.savedValues = new Float32Array(most);
  }

  /**
   * The bans of a run, or undefined when it has none (the loop then does no work for them).
   * `eosIds` are banned until `minTokens` new tokens (pass none when the request ignores EOS).
   */
  static of(config: GenerationConfig, eosIds: readonly number[], minTokens: number): TokenBans | undefined {
    // Most models have none of these keys: nothing to compile, build or look up per request.
    if ((minTokens <= 0 || eosIds.length === 0) && config.suppressTokens.length === 0 && config.beginSuppressTokens.length === 0 && config.badWordsIds.length === 0) {
      return undefined;
    }
    const bans = new TokenBans(compiledBans(config), minTokens > 0 ? Int32Array.from(eosIds) : NO_IDS, minTokens);
    return bans.until > 0 ? bans : undefined;
  }

  /**
   * Bans what applies to a row at `step` (its new tokens so far: every running row has made one
   * per step) in `logits`: -Infinity in place, the replaced values kept for {@link restore}.
   * `prompt` and `generated` are the row's ids, which a longer `bad_words_ids` sequence is
   * matched against (its ids before the banned one may end the prompt).
   */
  ban(logits: Float32Array, step: number, prompt: readonly number[], generated: readonly number[]): void {
    this.saved = 0;
    this.banAll(logits, this.always);
    if (step === 0) this.banAll(logits, this.atBegin);
    if (step < this.minTokens) this.banAll(logits, this.eos);
    if (this.sequences) {
      const last = generated.length > 0 ? generated[generated.length - 1] : prompt[prompt.length - 1];
      const words = last === undefined ? undefined : this.sequences.get(last);
      if (words) for (let i = 0; i < words.length; i++) if (endsWith(prompt, generated, words[i]!.before)) this.banOne(logits, words[i]!.banned);
    }
  }

  /** Puts back the values the last {@link ban} replaced (latest first, so an id banned twice gets its own value). */
  restore(logits: Float32Array): void {
    for (let i = this.saved - 1; i >= 0; i--) logits[this.savedIds[i]!] = this.savedValues[i]!;
    this.saved = 0;
  }

  private banAll(logits: Float32Array, ids: Int32Array): void {
    for (let i = 0; i < ids.length; i++) this.banOne(logits, ids[i]!);
  }

  private banOne(logits: Float32Array, id: number): void {
    const n = this.saved++;
    this.savedIds[n] = id;
    this.savedValues[n] = logits[id]!;
    logits[id] = -Infinity;
  }
}

const NO_IDS = new Int32Array(0);

/** Whether the row's ids (`prompt`, then `generated`) end with `tail`. */
function endsWith(prompt: readonly number[], generated: readonly number[], tail: Int32Array): boolean {
  const n = tail.length;
  const total = prompt.length + generated.length;
  if (n > total) return false;
  for (let i = 0; i < n; i++) {
    const at = total - n + i;
    if ((at < prompt.length ? prompt[at] : generated[at - prompt.length]) !== tail[i]) return false;
  }
  return true;
}
