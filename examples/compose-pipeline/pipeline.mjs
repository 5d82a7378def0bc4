// Runs one streamed generation through the plugin's processor and analyzer and collects what
// happened: the text as it streamed, the generated ids, one analysis event per forward step.
import { createWeft, isAnalysisOf } from '@weft/core';
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
    model.generate(request).subscribe({
      next(event) {
        if (event.type === 'token' && event.text !== '') options.onText?.(event.text);
        else if (isAnalysisOf(event, 'entropy')) {
          analysis.push({ step: event.step, data: /** @type {EntropyData} */ (event.data) });
        } else if (event.type === 'metrics') steps++;
        else if (event.type === 'done') {
          const row = event.rows[0];
          resolve({ text: row.text, ids: [...row.ids], bannedIds, finishReason: row.finishReason, steps, analysis });
        }
      },
      error: reject,
    });
  });
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
    `banned token ids ${JSON.stringify(result.bannedIds)}; finish: ${result.finishReason}`,
  ].join('\n');
}
