/**
 * Shared by the bench scripts in this folder: flag parsing, the model's cache shape, and a
 * minimal greedy decoding loop on onnxruntime-node with no Weft code in it (feeds, run, argmax).
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ort from 'onnxruntime-node';

/** The repository root (model paths are resolved against it). */
export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/**
 * The command line's flags, read by name: `flag(name, fallback)` is the value after `--name`, or
 * the fallback; `flag.on(name)` whether the switch `--name` is there. Once a script has read every
 * flag it takes, `flag.done(import.meta.url)` prints the script's header comment for `--help` (and
 * exits), and refuses a flag nothing read (exit 2), so a typo such as `--run 4` cannot quietly run
 * the default 200 requests.
 */
export function commandFlags(args = process.argv.slice(2)) {
  const values = new Set();
  const switches = new Set();
  const flag = (name, fallback) => {
    values.add(name);
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
  };
  flag.on = (name) => {
    switches.add(name);
    return args.includes(`--${name}`);
  };
  flag.done = (scriptUrl) => {
    const script = fileURLToPath(scriptUrl);
    if (args.includes('--help') || args.includes('-h')) {
      console.log(headerComment(script));
      process.exit(0);
    }
    const unknown = [];
    for (let i = 0; i < args.length; i++) {
      const name = args[i].startsWith('--') ? args[i].slice(2) : undefined;
      if (name !== undefined && values.has(name)) i++; // its value may start with "--"
      else if (name === undefined || !switches.has(name)) unknown.push(args[i]);
    }
    if (unknown.length > 0) {
      const takes = [...[...values].map((n) => `--${n} V`), ...[...switches].map((n) => `--${n}`)].join(', ');
      console.error(`${basename(script)}: unexpected ${unknown.map((a) => JSON.stringify(a)).join(', ')}; it takes ${takes} (--help says more).`);
      process.exit(2);
    }
  };
  return flag;
}

/** A script's first doc comment, without its comment markers: its usage. */
function headerComment(file) {
  const header = readFileSync(file, 'utf8').split('/**')[1]?.split('*/')[0] ?? '';
  return header
    .split('\n')
    .map((line) => line.replace(/^ \* ?/, ''))
    .join('\n')
    .trim();
}

/**
 * The built `@weft/core` and `@weft/backend-node` of another checkout (`--baseline DIR`, after
 * `npx pnpm@10 build` there), loaded beside this one's for A/B runs in one process.
 */
export async function importBaseline(dir) {
  const url = (p) => pathToFileURL(join(resolve(dir), p)).href;
  return {
    core: await import(url('packages/core/dist/index.js')),
    backend: await import(url('packages/backends/node/dist/index.js')),
  };
}

/** Layers, KV heads and head size from the folder's config.json. */
export function cacheShape(dir) {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  return {
    layers: config.num_hidden_layers,
    kvHeads: config.num_key_value_heads ?? config.num_attention_heads,
    headDim: config.head_dim ?? config.hidden_size / config.num_attention_heads,
    vocabSize: config.vocab_size,
  };
}

/**
 * The settings every comparison script takes: `--model` (default models/story), `--runs`,
 * `--tokens` (64) and `--prompt-tokens` (32, as `weft bench`), with the model's cache shape.
 * Prompt ids come from `benchPromptIds` (the text `weft bench` uses) once the model is loaded.
 */
export function runSettings(flag, defaultRuns) {
  const dir = resolve(repoRoot, flag('model', 'models/story'));
  const shape = cacheShape(dir);
  const promptTokens = Number(flag('prompt-tokens', '32'));
  return {
    dir,
    shape,
    runs: Number(flag('runs', String(defaultRuns))),
    tokens: Number(flag('tokens', '64')),
    promptTokens,
  };
}

/** Zero-length `past_key_values.*` tensors for the first step, in layer order. */
export function emptyPast(shape, batch = 1) {
  const past = {};
  for (let i = 0; i < shape.layers; i++) {
    for (const k of ['key', 'value']) past[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [batch, shape.kvHeads, 0, shape.headDim]);
  }
  return past;
}

/**
 * Greedy decoding of `tokens` tokens for one prompt, straight on `session`. `onStep(t, runStart,
 * runEnd, picked)` gets each step's `performance.now()` before and after `session.run` and right
 * after its token was picked. `beforeFirstRun`, if given, runs once with step 0's feeds built,
 * just before its clock read and `session.run`; `beforeDecodeRun` does the same before every
 * later step's (code-footprint.mjs puts work there).
 */
export async function minimalGreedyLoop(session, shape, prompt, tokens, onStep, beforeFirstRun, beforeDecodeRun) {
  let past = emptyPast(shape);
  let step = prompt;
  let pastLength = 0;
  for (let t = 0; t < tokens; t++) {
    const seq = step.length;
    const total = pastLength + seq;
    const ids = new BigInt64Array(seq);
    const positions = new BigInt64Array(seq);
    for (let c = 0; c < seq; c++) {
      ids[c] = BigInt(step[c]);
      positions[c] = BigInt(pastLength + c);
    }
    const feeds = {
      input_ids: new ort.Tensor('int64', ids, [1, seq]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      position_ids: new ort.Tensor('int64', positions, [1, seq]),
    };
    Object.assign(feeds, past);
    if (t === 0 && beforeFirstRun) beforeFirstRun();
    else if (t > 0 && beforeDecodeRun) beforeDecodeRun();
    const runStart = performance.now();
    const out = await session.run(feeds);
    const runEnd = performance.now();
    const logits = out.logits.data;
    const vocab = out.logits.dims[2];
    const base = (seq - 1) * vocab;
    let best = 0;
    for (let v = 1; v < vocab; v++) if (logits[base + v] > logits[base + best]) best = v;
    onStep(t, runStart, runEnd, performance.now());
    past = {};
    for (let i = 0; i < shape.layers; i++) for (const k of ['key', 'value']) past[`past_key_values.${i}.${k}`] = out[`present.${i}.${k}`];
    pastLength = total;
    step = [best];
  }
}
