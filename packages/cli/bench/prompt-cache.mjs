#!/usr/bin/env node
/**
 * A multi-turn chat with and without a prompt cache (`model.createPromptCache()`), in one process:
 * each round plays the whole conversation twice, once with a fresh cache passed in every turn and
 * once without, alternating which goes first. Every turn renders the history so far through the
 * chat template and generates a greedy reply of `--reply-tokens` tokens; the replies of the first
 * round become the history of every later round, so both sides see the same prompts. Reports, per
 * turn, the prompt length, the tokens the cache held, and the median time to the first token and
 * to the whole reply of each side, and checks that both sides gave the same token ids.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/prompt-cache.mjs [--model models/story] [--turns 8] [--reply-tokens 48]
 *                                            [--rounds 15] [--threads 1] [--kv fp32] [--router sink-window:window=124]
 *
 * With `--router`, both sides route the cache (with the cache, once the router evicts, each turn
 * extends what the last one fed; without it, each turn's prefill sees the whole history once), so
 * their token ids can differ.
 */
import { resolve } from 'node:path';
import { createWeft } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';
import { kvCompressors } from '@weft/plugin-kv';
import { attentionRouters } from '@weft/plugin-attention';
import { parseNamedRef } from '@weft/core';
import { commandFlags, repoRoot } from './minimal-loop.mjs';

const flag = commandFlags();
const dir = resolve(repoRoot, flag('model', 'models/story'));
const turns = Number(flag('turns', '8'));
const replyTokens = Number(flag('reply-tokens', '48'));
const rounds = Number(flag('rounds', '15'));
const threads = Number(flag('threads', '1'));
const kv = flag('kv', 'fp32');
const routerSpec = flag('router', undefined);
const router = routerSpec === undefined ? undefined : parseNamedRef(routerSpec);
flag.done(import.meta.url);

const USER_TURNS = [
  'Tell me a story about a cat.',
  'What did the cat eat?',
  'Where did the cat sleep that night?',
  'Did the cat have a friend?',
  'What was the friend called?',
  'What did they play together?',
  'How did the day end?',
  'Tell me one more thing about the cat.',
  'Was the cat happy?',
  'What is the moral of the story?',
];

const weft = createWeft({ plugins: [nodeBackend(), kvCompressors(), attentionRouters()] });
const model = await weft.load(dir, { backend: 'node', session: { intraOpNumThreads: threads } });

/** One turn: time to the first token and to the done event, the ids, and the start event's figures. */
function reply(messages, promptCache) {
  return new Promise((res, rej) => {
    const started = performance.now();
    let ttft = 0;
    let start;
    model.generate({ messages, maxTokens: replyTokens, temperature: 0, repetitionPenalty: 1, ignoreEos: true, kv, router, promptCache }).subscribe({
      next(e) {
        if (e.type === 'start') start = e;
        else if (e.type === 'token' && ttft === 0) ttft = performance.now() - started;
        else if (e.type === 'done') res({ ttft, total: performance.now() - started, ids: e.rows[0].ids, text: e.rows[0].text, promptTokens: start.promptIds[0].length, cachedTokens: start.cachedTokens });
      },
      error: rej,
    });
  });
}

/** The conversation's messages before each turn's reply, built from a first, uncached run. */
const histories = [];
{
  const messages = [];
  for (let t = 0; t < turns; t++) {
    messages.push({ role: 'user', content: USER_TURNS[t % USER_TURNS.length] });
    histories.push(messages.slice());
    const r = await reply(messages, undefined);
    messages.push({ role: 'assistant', content: r.text });
  }
}

/** Plays every turn in order; with `cached`, through one fresh cache. */
async function conversation(cached) {
  const cache = cached ? model.createPromptCache() : undefined;
  const results = [];
  for (const messages of histories) results.push(await reply(messages, cache));
  cache?.dispose();
  return results;
}

const timings = { cached: histories.map(() => ({ ttft: [], total: [] })), full: histories.map(() => ({ ttft: [], total: [] })) };
let figures;
let mismatches = 0;
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ['cached', 'full'] : ['full', 'cached'];
  const got = {};
  for (const side of order) got[side] = await conversation(side === 'cached');
  for (let t = 0; t < turns; t++) {
    for (const side of order) {
      timings[side][t].ttft.push(got[side][t].ttft);
      timings[side][t].total.push(got[side][t].total);
    }
    if (got.cached[t].ids.join() !== got.full[t].ids.join()) mismatches++;
  }
  figures ??= got.cached;
}
await weft.dispose();

const median = (values) => {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const ms = (x) => x.toFixed(2);
console.log(`${dir}, kv ${kv}${routerSpec === undefined ? '' : `, router ${routerSpec}`}, ${turns} turns, ${replyTokens}-token greedy replies, ${rounds} rounds (medians)`);
console.log('turn | prompt tokens | cached | TTFT cached / full (ms) | ratio | reply cached / full (ms) | ratio');
for (let t = 0; t < turns; t++) {
  const c = timings.cached[t];
  const f = timings.full[t];
  const ttft = [median(c.ttft), median(f.ttft)];
  const total = [median(c.total), median(f.total)];
  console.log(
    `${t + 1} | ${figures[t].promptTokens} | ${figures[t].cachedTokens} | ${ms(ttft[0])} / ${ms(ttft[1])} | ${(ttft[0] / ttft[1]).toFixed(3)} | ${ms(total[0])} / ${ms(total[1])} | ${(total[0] / total[1]).toFixed(3)}`,
  );
}
console.log(mismatches === 0 ? 'token ids: identical with and without the cache in every turn' : `token ids: ${mismatches} turn(s) differed between the two sides`);
