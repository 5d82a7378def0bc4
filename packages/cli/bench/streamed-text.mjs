#!/usr/bin/env node
/**
 * What turning ids into streamed text costs per token: core's `IncrementalDetokenizer.push` over
 * long runs of one kind of token, and `StopMatcher.push` with many stop strings. With
 * `--baseline DIR` (another checkout, built), the same cases run on its core too, alternated in
 * rounds, and the table shows both. Medians over `--rounds` rounds of `--tokens` pushes each,
 * after two warm-up rounds.
 * The tokenizer is `--model`'s, by default ../shared/models/stories260k (sentencepiece, byte
 * fallback: the windowed path) where it exists, else the project's models/story (byte-level).
 *
 *   npx pnpm@10 build                     # here (and in the baseline checkout)
 *   node packages/cli/bench/streamed-text.mjs [--baseline ../weft-before] [--model DIR] [--tokens 4000] [--rounds 11]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commandFlags, repoRoot } from './minimal-loop.mjs';

const flag = commandFlags();
const baseline = flag('baseline', undefined);
const tokens = Number(flag('tokens', '4000'));
const rounds = Number(flag('rounds', '11'));
const modelFlag = flag('model', undefined);
flag.done(import.meta.url);
if (!(Number.isInteger(tokens) && tokens > 0 && Number.isInteger(rounds) && rounds > 0)) throw new Error('--tokens and --rounds take positive integers');

const shared = resolve(repoRoot, '../shared/models/stories260k');
const modelDir = modelFlag !== undefined ? resolve(modelFlag) : existsSync(join(shared, 'tokenizer.json')) ? shared : join(repoRoot, 'models/story');
const readJson = (name) => JSON.parse(readFileSync(join(modelDir, name), 'utf8'));
const eosToken = readJson('tokenizer_config.json').eos_token;
/** The EOS token's text: a run of it is a run of special tokens. */
const eosPiece = typeof eosToken === 'string' ? eosToken : eosToken?.content;

const checkouts = { this: repoRoot, ...(baseline === undefined ? {} : { baseline: resolve(baseline) }) };
const cores = {};
for (const [name, dir] of Object.entries(checkouts)) {
  const core = await import(pathToFileURL(join(dir, 'packages/core/dist/index.js')).href);
  cores[name] = { core, tokenizer: new core.HfTokenizer(readJson('tokenizer.json'), readJson('tokenizer_config.json')) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The ids of a run: `tokens` copies of one id, or the ids of English text repeated. */
function runOf(tokenizer, kind) {
  const vocab = (piece) => {
    const id = tokenizer.tokenToId(piece);
    if (id === undefined) throw new Missing(`${modelDir} has no token ${piece}`);
    return id;
  };
  if (kind === 'text') {
    const ids = tokenizer.encode('Once upon a time, a little girl named Lily found a shiny red ball in the park. ', { addSpecialTokens: false });
    return Array.from({ length: tokens }, (_, i) => ids[i % ids.length]);
  }
  const eos = kind === 'eos' ? vocab(eosPiece) : vocab('<0x80>');
  return new Array(tokens).fill(eos);
}

const stopLists = (count) => Array.from({ length: count }, (_, i) => `stop word number ${i} here`);

class Missing extends Error {}

/** Median µs per push of one case on one checkout's core. */
function caseTimes(kind) {
  return (c) => {
    if (kind.startsWith('stops')) {
      const stops = stopLists(Number(kind.split(' ')[1]));
      const pieces = Array.from({ length: tokens }, (_, i) => ['Once', ' upon', ' a', ' time', ',', ' stop', ' word', ' number'][i % 8]);
      const matcher = new c.core.StopMatcher(stops);
      const t = performance.now();
      for (const piece of pieces) matcher.push(piece);
      return ((performance.now() - t) * 1000) / tokens;
    }
    const ids = runOf(c.tokenizer, kind);
    const detokenizer = new c.core.IncrementalDetokenizer(c.tokenizer);
    const t = performance.now();
    for (const id of ids) detokenizer.push(id);
    return ((performance.now() - t) * 1000) / tokens;
  };
}

const cases = {
  'detokenizer: English text': caseTimes('text'),
  'detokenizer: a run of EOS (special)': caseTimes('eos'),
  'detokenizer: a run of <0x80> (invalid byte)': caseTimes('invalid'),
  'stop matcher: 1 stop string': caseTimes('stops 1'),
  'stop matcher: 100 stop strings': caseTimes('stops 100'),
  'stop matcher: 1,000 stop strings': caseTimes('stops 1000'),
};

console.log(`${modelDir}: median µs per token over ${rounds} rounds of ${tokens} pushes${baseline === undefined ? '' : ` (baseline ${checkouts.baseline})`}`);
const names = Object.keys(checkouts);
console.log(`| case | ${names.join(' | ')} |`);
console.log(`| --- | ${names.map(() => '---:').join(' | ')} |`);
for (const [label, time] of Object.entries(cases)) {
  const times = Object.fromEntries(names.map((n) => [n, []]));
  try {
    // Two rounds first, not counted: the first pushes run before the JIT has compiled decode.
    for (let r = -2; r < rounds; r++) {
      for (const n of r % 2 === 0 ? names : [...names].reverse()) {
        const t = time(cores[n]);
        if (r >= 0) times[n].push(t);
      }
    }
  } catch (error) {
    if (!(error instanceof Missing)) throw error;
    console.log(`| ${label} | ${names.map(() => 'n/a').join(' | ')} |`);
    continue;
  }
  console.log(`| ${label} | ${names.map((n) => median(times[n]).toFixed(2)).join(' | ')} |`);
}
