import { BackendError } from '../errors/backend-error.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { PluginError } from '../errors/plugin-error.js';
import { quoteValue } from '../util/describe-cause.js';
import type { OwnedHooks } from '../runtime/tokens.js';
import type { LogitsContext } from '../spec/logits.js';
import { pickToken } from './pick-token.js';
import { argmax } from './sampling/argmax.js';
import type { RunComponents } from './resolve-components.js';
import type { RowState } from './row-state.js';
import { penalizeDistinct } from './sampling/repetition-penalty.js';
import type { SamplingOptions } from './sampling/sampling-options.js';
import { runStage, stageFailure } from './stage-runner.js';
import type { TokenBans } from './token-bans.js';

/** What choosing the next tokens needs besides the logits. */
export interface NextTokenContext {
  readonly step: number;
  readonly vocab: number;
  readonly padTokenId: number;
  readonly prompts: readonly (readonly number[])[];
  readonly sampling: SamplingOptions;
  readonly random: () => number;
  readonly components: RunComponents;
  /** The hook sets that have a `processLogits` stage. */
  readonly hooks: readonly OwnedHooks[];
  /**
   * Whether anything rewrites logits or picks the token itself (sampling, penalty, processors,
   * hooks, a sampler). It then works on a copy, keeping the raw row intact; otherwise the token is
   * the raw row's argmax.
   */
  readonly rewrites: boolean;
  /** generation_config.json's bans and the run's minimum of new tokens; undefined when there are none. */
  readonly bans: TokenBans | undefined;
}

/**
 * The next id of every row: repetition penalty → generation_config bans (suppressed and bad-word
 * ids, EOS before the minimum of new tokens) → request processors → `processLogits` hooks →
 * temperature / top-k / top-p / min-p → draw (or argmax, or the request's sampler). Finished rows
 * get the pad id.
 */
export function nextTokens(rows: readonly RowState[], logits: readonly Float32Array[], ctx: NextTokenContext): number[] {
  const { components, hooks, sampling } = ctx;
  const bans = ctx.bans !== undefined && ctx.step < ctx.bans.until ? ctx.bans : undefined;
  const picked: number[] = [];
  for (const row of rows) {
    const r = row.row;
    if (!row.active) {
      picked.push(ctx.padTokenId);
      continue;
    }
    if (!ctx.rewrites) {
      // Plain greedy decoding with nothing that reads or rewrites logits: the argmax of the raw row.
      const raw = logits[r]!;
      if (bans === undefined) {
        const id = argmax(raw);
        if (!(raw[id]! > -Infinity)) throw noFiniteLogit(r, ctx);
        picked.push(id);
        continue;
      }
      // Banned in the raw row itself (no copy), then put back for analyzers and logprobs.
      bans.ban(raw, ctx.step, ctx.prompts[r]!, row.generated);
      const id = argmax(raw);
      const finite = raw[id]! > -Infinity;
      bans.restore(raw);
      if (!finite) throw noFiniteLogit(r, ctx, raw);
      picked.push(id);
      continue;
    }
    const l = logits[r]!.slice();
    const lc: LogitsContext = { row: r, step: ctx.step, promptIds: ctx.prompts[r]!, generatedIds: row.generated };
    if (sampling.repetitionPenalty !== 1) penalizeDistinct(l, distinctIds(row, ctx.prompts[r]!), sampling.repetitionPenalty);
    if (bans !== undefined) bans.ban(l, ctx.step, ctx.prompts[r]!, row.generated);
    for (const p of components.processors) {
      const stage = `logits processor "${p.name}"`;
      editedInPlace(p.owner, stage, runStage(p.owner, stage, () => p.value.process(l, lc) as unknown), l);
    }
    for (let i = 0; i < hooks.length; i++) {
      const h = hooks[i]!;
      editedInPlace(h.owner, 'processLogits', runStage(h.owner, 'processLogits', () => h.hooks.processLogits!(l, lc) as unknown), l);
    }
    const sampler = components.sampler;
    if (sampler) {
      const id = runStage(sampler.owner, `sampler "${sampler.name}"`, () => pickToken(l, sampling, ctx.random, lc, sampler.value));
      if (!Number.isInteger(id) || id < 0 || id >= ctx.vocab) {
        throw new PluginError(sampler.owner, `sampler "${sampler.name}"`, `returned ${quoteValue(id)}, not a token id in [0, ${ctx.vocab}).`);
      }
      picked.push(id);
      continue;
    }
    const id = pickToken(l, sampling, ctx.random, lc);
    // The built-in picks choose a finite logit whenever there is one.
    if (!(l[id]! > -Infinity)) throw noFiniteLogit(r, ctx, logits[r]!);
    picked.push(id);
  }
  return picked;
}

/** Per row of a run: the distinct ids of its prompt and of the generated ids taken in so far. */
const seenIds = new WeakMap<RowState, { readonly ids: Set<number>; taken: number }>();

/**
 * The distinct ids the repetition penalty applies to for `row`: its prompt's and its generated
 * ones, kept up to date a token at a time (a copy of prompt and output per token cost time in
 * proportion to the prompt).
 */
function distinctIds(row: RowState, prompt: readonly number[]): ReadonlySet<number> {
  let seen = seenIds.get(row);
  if (!seen) seenIds.set(row, (seen = { ids: new Set(prompt), taken: 0 }));
  const generated = row.generated;
  while (seen.taken < generated.length) seen.ids.add(generated[seen.taken++]!);
  return seen.ids;
}

/**
 * No token can be picked: every logit is -Infinity or NaN. From the model itself (`raw` has no
 * finite logit, or nothing rewrote it) that is a backend failure; otherwise the request's
 * processing masked every token.
 */
function noFiniteLogit(row: number, ctx: NextTokenContext, raw?: Float32Array): Error {
  const where = `row ${row} at step ${ctx.step}`;
  if (raw === undefined || !(raw[argmax(raw)]! > -Infinity)) {
    return new BackendError(`The model returned no finite logit for ${where} (every value is NaN or -Infinity); the backend or the graph is at fault.`);
  }
  const processors = ctx.components.processors.map((p) => `"${p.name}"`);
  const hooks = ctx.hooks.map((h) => `"${h.owner}"`);
  return new InvalidOptionsError(
    `No token is left to pick for ${where}: every logit is -Infinity or NaN after the repetition penalty` +
      `${ctx.bans !== undefined ? ", generation_config.json's suppress_tokens, begin_suppress_tokens and bad_words_ids, the end-of-sequence ids banned before minTokens" : ''}` +
      `${processors.length > 0 ? `, processors ${processors.join(', ')}` : ''}${hooks.length > 0 ? `, processLogits hooks of ${hooks.join(', ')}` : ''}` +
      ' and top-k/top-p/min-p. Masking must leave at least one token.',
    // Named only when the request has processors: bans from generation_config.json alone are no
    // request field's fault (and the CLI would otherwise blame --processor).
    processors.length > 0 ? { option: 'processors' } : {},
  );
}

/**
 * Throws a `PluginError` when a logits stage returned other logits than the row it was given (an
 * array or typed array of the row's length, not a view of the row): it
 * edits that row in place, and new logits returned (as processors written for libraries whose
 * processors return them do) would otherwise be dropped without a word, the stage silently doing
 * nothing. Anything else returned is ignored, as a `void` function's result is (`(l) => l.fill(0)`
 * returns the row itself, `(l) => l.subarray(0, 5).fill(-Infinity)` a view of it, `(l) => (l[5] =
 * -Infinity)` a number).
 */
function editedInPlace(owner: string, stage: string, result: unknown, row: Float32Array): void {
  if (result === undefined || result === row || typeof result !== 'object' || result === null) return;
  // A view of the row itself (`(l) => l.subarray(0, 5).fill(-Infinity)`) edited it in place.
  let inPlace: boolean;
  try {
    // Logits are as long as the row: `(l) => ids.map((id) => (l[id] = -Infinity))` returns a short array.
    const other = ArrayBuffer.isView(result) ? result.buffer !== row.buffer : Array.isArray(result);
    inPlace = !other || (result as ArrayLike<unknown>).length !== row.length;
  } catch (cause) {
    throw stageFailure(owner, stage, cause); // a returned proxy whose reads throw
  }
  if (inPlace) return;
  throw new PluginError(owner, stage, `returned ${Array.isArray(result) ? 'an array' : 'a typed array'} other than the logits it was given, which is not used; edit the given logits in place instead (e.g. logits.set(newLogits)).`);
}
