// A Weft plugin that registers two components: a logits processor that bans token ids, and an
// analyzer that measures how uncertain the model is at each step (entropy of its next-token
// distribution) and which token it ranks first. The analyzer sees the model's own logits, before
// any processor, so where its top token differs from the one generated, a processor changed the
// pick. Requests opt in by name: `processors: [{ name: 'ban-tokens', options: { ids } }]` and
// `analyzers: ['entropy']`.
import { argmax, definePlugin, InvalidOptionsError, logSumExp } from '@weft/core';

/** @typedef {import('@weft/core').WeftPlugin} WeftPlugin */
/** @typedef {import('@weft/core').LogitsProcessor} LogitsProcessor */
/** @typedef {import('@weft/core').Analyzer} Analyzer */
/** @typedef {import('@weft/core').ForwardObservation} ForwardObservation */

/**
 * Per row, for one step's next-token distribution as the model gave it (before any processor): its
 * entropy (nats), and the id and probability of its most likely token.
 * @typedef {{ entropy: number[], topId: number[], topProbability: number[] }} EntropyData
 */

/** @returns {WeftPlugin} */
export function composePlugin() {
  return definePlugin({
    name: 'example-compose',
    version: '1.0.0',
    apiVersion: '^0.1.0',
    description: 'ban-tokens logits processor and entropy analyzer',
    setup(ctx) {
      ctx.register('logits-processor', {
        name: 'ban-tokens',
        description: 'Sets the logits of the given token ids to -Infinity (options: { ids: number[] })',
        create: (options) => banTokens(/** @type {{ ids?: unknown }} */ (options ?? {}).ids),
      });
      ctx.register('analyzer', {
        name: 'entropy',
        description: 'Entropy (nats), top token and its probability of each step’s next-token distribution',
        create: () => entropyAnalyzer(),
      });
    },
  });
}

/**
 * @param {unknown} ids
 * @returns {LogitsProcessor}
 */
export function banTokens(ids) {
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => Number.isInteger(id) && id >= 0)) {
    throw new InvalidOptionsError('ban-tokens needs options.ids, a non-empty list of token ids');
  }
  const banned = [...new Set(ids)];
  return {
    name: 'ban-tokens',
    process(logits) {
      for (const id of banned) if (id < logits.length) logits[id] = Number.NEGATIVE_INFINITY;
    },
  };
}

/** @returns {Analyzer} */
export function entropyAnalyzer() {
  return {
    name: 'entropy',
    /**
     * @param {ForwardObservation} observation
     * @returns {EntropyData}
     */
    observe(observation) {
      const entropy = [];
      const topId = [];
      const topProbability = [];
      // The logits are the model's own (before processors), valid only during this call.
      for (const logits of observation.logits) {
        const lse = logSumExp(logits);
        let h = 0;
        for (let i = 0; i < logits.length; i++) {
          const logp = logits[i] - lse;
          const p = Math.exp(logp);
          if (p > 0) h -= p * logp;
        }
        // The token greedy decoding would pick if no processor changed the logits.
        const top = argmax(logits);
        entropy.push(h);
        topId.push(top);
        topProbability.push(Math.exp(logits[top] - lse));
      }
      return { entropy, topId, topProbability };
    },
  };
}
