// Runs one streamed generation through the plugin's processor and analyzer and collects what
// happened: the text as it streamed, the generated ids, one analysis event per forward step, and
// the steps where the generated token is not the one the model ranked first (the processor's work).
import { ContextOverflowError, InvalidOptionsError, ModelLoadError, createWeft, isAnalysisOf } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { composePlugin } from './plugin.mjs';

/** @typedef {import('@weft/core').WeftModel} WeftModel */
/** @typedef {import('@weft/core').Tokenizer} Tokenizer */
/** @typedef {import('./plugin.mjs').EntropyData} EntropyData */

/**
 * @typedef {object} PipelineOptions
 * @property {string} prompt
 * @property {number} [maxTokens]
 * @property {readonly string[]} [banWords] words to keep out of the output; none: no processor
 * @property {boolean} [analyze] attach the entropy analyzer (default true)
 * @property {(text: string) => void} [onText] called with each text delta as it is produced
 */

/**
 * @typedef {object} PipelineResult
 * @property {string} text
 * @property {number[]} ids
 * @property {number[]} bannedIds
 * @property {string} finishReason
 * @property {number} steps forward passes the run made (one `metrics` event each)
 * @property {{ step: number, data: EntropyData }[]} analysis
 * @property {Override[]} overrides steps whose generated token is not the model's top token
 */

/**
 * A step where the token generated differs from the one the model ranked first (greedy decoding:
 * only a processor can cause that).
 * @typedef {object} Override
 * @property {number} step
 * @property {number} topId the model's most likely token, from the analyzer (before processors)
 * @property {number} pickedId the token generated
 * @property {string} topText
 * @property {string} pickedText
 */

/** A runtime with the node backend and the example plugin. */
export function createRuntime() {
  return createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } }), composePlugin()] });
}

/**
 * Token ids to ban so that `word` cannot start: for the word with and without a leading space,
 * the first token of its encoding that is not blank. With a small vocabulary that token may be a
 * word piece other words share, which are then blocked too.
 * @param {Tokenizer} tokenizer
 * @param {readonly string[]} words
 * @returns {number[]}
 */
export function bannedTokenIds(tokenizer, words) {
  const ids = new Set();
  for (const word of words) {
    for (const spelling of [word, ` ${word}`]) {
      const first = tokenizer.encode(spelling, { addSpecialTokens: false }).find((id) => tokenizer.decode([id]).trim() !== '');
      if (first !== undefined) ids.add(first);
    }
  }
  return [...ids];
}

/**
 * The first word of `text` (letters only), e.g. the name a story gives after "named".
 * @param {string} text
 * @returns {string}
 */
export function firstWord(text) {
  return /\p{L}+/u.exec(text)?.[0] ?? '';
}

/**
 * Streams one greedy generation with the processor and analyzer named in the request.
 * @param {WeftModel} model
 * @param {PipelineOptions} options
 * @returns {Promise<PipelineResult>}
 */
export function runPipeline(model, options) {
  const bannedIds = options.banWords?.length ? bannedTokenIds(model.tokenizer, options.banWords) : [];
  const request = {
    prompt: options.prompt,
    maxTokens: options.maxTokens ?? 80,
    temperature: 0,
    processors: bannedIds.length > 0 ? [{ name: 'ban-tokens', options: { ids: bannedIds } }] : [],
    analyzers: options.analyze === false ? [] : ['entropy'],
  };
  return new Promise((resolve, reject) => {
    /** @type {{ step: number, data: EntropyData }[]} */
    const analysis = [];
    let steps = 0;
    /** @type {readonly number[]} */
    let promptIds = [];
    model.generate(request).subscribe({
      next(event) {
        if (event.type === 'start') promptIds = event.promptIds[0] ?? [];
        else if (event.type === 'token' && event.text !== '') options.onText?.(event.text);
        else if (isAnalysisOf(event, 'entropy')) {
          analysis.push({ step: event.step, data: /** @type {EntropyData} */ (event.data) });
        } else if (event.type === 'metrics') steps++;
        else if (event.type === 'done') {
          const row = event.rows[0];
          const ids = [...row.ids];
          resolve({ text: row.text, ids, bannedIds, finishReason: row.finishReason, steps, analysis, overrides: overridesOf(model.tokenizer, promptIds, analysis, ids) });
        }
      },
      error: reject,
    });
  });
}

/**
 * The steps where the generated id is not the analyzer's top id. Step `s` of a one-row run without
 * failover is the forward pass whose logits chose `ids[s]` (the run's last step has no id when it
 * chose the end-of-sequence token).
 * @param {Tokenizer} tokenizer
 * @param {readonly number[]} promptIds
 * @param {{ step: number, data: EntropyData }[]} analysis
 * @param {readonly number[]} ids
 * @returns {Override[]}
 */
function overridesOf(tokenizer, promptIds, analysis, ids) {
  const overrides = [];
  for (const { step, data } of analysis) {
    const topId = data.topId[0];
    const pickedId = ids[step];
    if (topId === undefined || pickedId === undefined || topId === pickedId) continue;
    const context = [...promptIds, ...ids.slice(0, step)];
    overrides.push({ step, topId, pickedId, topText: addedText(tokenizer, context, topId), pickedText: addedText(tokenizer, context, pickedId) });
  }
  return overrides;
}

/**
 * The text `id` adds after `context`. Decoded alone, a token can lose its leading space (a
 * SentencePiece word start) or be a piece that means nothing by itself.
 * @param {Tokenizer} tokenizer
 * @param {readonly number[]} context
 * @param {number} id
 * @returns {string}
 */
function addedText(tokenizer, context, id) {
  const before = tokenizer.decode(context, { skipSpecialTokens: true });
  const after = tokenizer.decode([...context, id], { skipSpecialTokens: true });
  return after.startsWith(before) ? after.slice(before.length) : tokenizer.decode([id]);
}

/**
 * A one-paragraph summary of the analysis events.
 * @param {PipelineResult} result
 * @returns {string}
 */
export function summarize(result) {
  const entropies = result.analysis.map((a) => a.data.entropy[0] ?? 0);
  if (entropies.length === 0) return 'no analysis events';
  const mean = entropies.reduce((s, h) => s + h, 0) / entropies.length;
  const most = entropies.indexOf(Math.max(...entropies));
  const least = entropies.indexOf(Math.min(...entropies));
  return [
    `${result.analysis.length} analysis events for ${result.steps} forward steps`,
    `next-token entropy: mean ${mean.toFixed(3)} nats, most uncertain at step ${most} (${entropies[most].toFixed(3)}), ` +
      `most certain at step ${least} (${entropies[least].toFixed(3)})`,
    overridesLine(result),
    `banned token ids ${JSON.stringify(result.bannedIds)}; finish: ${result.finishReason}`,
  ].join('\n');
}

/**
 * How often the generated token was the model's own first choice, and where a processor changed it.
 * @param {PipelineResult} result
 * @returns {string}
 */
function overridesLine(result) {
  const compared = Math.min(result.analysis.length, result.ids.length);
  const kept = compared - result.overrides.length;
  if (result.overrides.length === 0) return `generated the model's top token at all ${compared} steps`;
  const shown = result.overrides
    .slice(0, 4)
    .map((o) => `step ${o.step} (${JSON.stringify(o.topText)} → ${JSON.stringify(o.pickedText)})`)
    .join(', ');
  const more = result.overrides.length > 4 ? `, and ${result.overrides.length - 4} more` : '';
  return `generated the model's top token at ${kept} of ${compared} steps; a processor replaced it at ${shown}${more}`;
}

/** Exit code of a usage or input error, as the `weft` CLI uses it. */
export const EXIT_USAGE = 2;

/**
 * The script's exit code for `error`: 2 when it is the caller's input that is wrong (the typed
 * errors a user fixes by changing what they passed: a model folder that is missing or broken, an
 * option or a word that cannot be used, a prompt longer than the model's context), 1 for
 * anything else (a backend or plugin that failed, a bug).
 * @param {unknown} error
 * @returns {1 | 2}
 */
export function exitCodeOf(error) {
  const input = ModelLoadError.isInstance(error) || InvalidOptionsError.isInstance(error) || ContextOverflowError.isInstance(error);
  return input ? EXIT_USAGE : 1;
}

/**
 * `error`'s message on one line (runtime messages sometimes span several).
 * @param {unknown} error
 * @returns {string}
 */
export function errorLine(error) {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\r?\n\s*/g, ' ').trim() || (error instanceof Error ? error.name : 'unknown error');
}
