#!/usr/bin/env node
// Attention routers on models/story: perplexity of the long split and long-range fact recall at
// budgets 64/128/256 against `full`, then generation and perplexity past the trained context
// (window vs sink-window, absolute vs cache positions).
//
//   pnpm run build && node packages/plugins/attention/bench/routers.mjs [--stories 16|all]
//     [--budgets 64,128,256] [--routers window,sink-window,... | "key-norm:recent=16 window"] [--long-tokens 3072]
//     [--long-budget 256] [--no-long] [--model DIR] [--kv "fp32 int8 kivi:residual=128"]
//     [--plot docs/kv-quality.png] [--no-routers] [--json] [--help]
//   node packages/plugins/attention/bench/routers.mjs --from-json report.json [--plot FILE.png]
//
// --kv takes KV stores separated by spaces or ';' (each NAME[:key=value,...] as on the CLI): the
// first one runs the router table, every other one runs `full` and every router × budget again
// (the compressor × router matrix). --plot draws perplexity against mean at-rest KV bytes for
// everything measured (PNG through Chromium, plus the SVG beside it).
//
// Everything goes through the decode path (evaluate(): one token per step, the router evicting
// after every step), from the built packages (dist). Recall: the prompt is the story up to the
// probe's offset (with BOS) and the model must greedily produce the answer; greedy decoding
// agrees with teacher forcing up to the first wrong token, so the probe is a hit when the
// argmax at each answer position of the story is the answer's token. Nothing is hard-coded:
// re-run after the model changes.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@weft/backend-node';
import { createWeft, logSumExp, parseNamedRef } from '@weft/core';
import { AttentionImportanceAnalyzer, attentionRouters, createRouter } from '@weft/plugin-attention';
import { kvCompressors } from '@weft/plugin-kv';
import { qualityMemorySvg, renderPng } from './plot.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const args = parseArgs(process.argv.slice(2));
const log = (...m) => console.error(...m); // progress on stderr, the report on stdout
if (args['from-json']) {
  // Renders a saved --json report as markdown without measuring again.
  const saved = JSON.parse(readFileSync(args['from-json'], 'utf8'));
  console.log(markdown(saved));
  if (args.plot) await plot(saved, args.plot);
  process.exit(0);
}
const modelDir = resolve(args.model ?? join(here, '../../../../models/story'));
const budgets = (args.budgets ?? '64,128,256').split(',').map(Number);
/**
 * Routers to measure: names separated by commas, or specs with options (`key-norm:recent=16`)
 * separated by spaces or ';'. Options are merged over the budget given to each.
 */
const ROUTERS = (args.routers ?? 'window,sink-window,strided,heavy-hitter,key-norm,hybrid,hybrid+attn,content-aware')
  .split(/[;\s]+/)
  .filter(Boolean)
  .flatMap((item) => (item.includes(':') ? [item] : item.split(',')));
const baseName = (spec) => spec.split(':')[0];
/** Routers that read attention probabilities run on the graph that exports them. */
const NEEDS_ATTENTIONS = new Set(['heavy-hitter', 'hybrid+attn', 'content-aware']);
/** KV stores to combine with every router (`--kv "fp32 int8 kivi:residual=128"`); the first is the router table's. */
const KVS = (args.kv ?? 'fp32').split(/[;\s]+/).filter(Boolean).map((spec) => ({ label: spec, ref: parseNamedRef(spec, '--kv') }));
const json = Boolean(args.json);

const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1, interOpNumThreads: 1 } }), attentionRouters(), kvCompressors()] });
const plain = await weft.load(modelDir);
const withAttentions = await weft.load(modelDir, { onnxFile: 'onnx/model_with_attentions.onnx' });
const tok = plain.tokenizer;

/** Which model was measured (the story model gets retrained; numbers belong to one file). */
const modelSha = createHash('sha256').update(readFileSync(join(modelDir, 'onnx/model.onnx'))).digest('hex').slice(0, 12);
const stories = readFileSync(join(modelDir, 'data/long.txt'), 'utf8').replace(/\n$/, '').split('\n\n');
const probes = readFileSync(join(modelDir, 'data/long-recall.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const storyCount = args.stories === 'all' ? stories.length : Math.min(stories.length, Number(args.stories ?? 16));
const chosen = stories.slice(0, storyCount).map((text, index) => {
  const ids = tok.encode(text);
  const own = probes.filter((p) => p.story === index).map((p) => {
    const prefix = tok.encode(text.slice(0, p.offset));
    const answer = tok.encode(p.answer, { addSpecialTokens: false });
    const aligned = [...prefix, ...answer].every((id, i) => ids[i] === id);
    return { ...p, prefix, answer, aligned };
  });
  return { index, ids, probes: own };
});

/**
 * Wraps a router for measurement: records each step's argmax and the NLL of the next id, and
 * (for `hybrid+attn`) runs the attention-importance analyzer itself, since evaluate() runs no
 * analyzers.
 */
function measuring(router, ids, importance) {
  const argmax = [];
  const nll = [];
  const kept = [];
  const policies = {};
  let fed = 0;
  return {
    argmax,
    nll,
    kept,
    policies,
    router: {
      specificationVersion: 'v1',
      name: `measured-${router.name}`,
      positions: router.positions ?? 'absolute',
      observe(o) {
        const logits = o.logits[0];
        let best = 0;
        for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        fed += o.inputIds[0].length;
        argmax[fed - 1] = best;
        if (fed < ids.length) nll[fed - 1] = logSumExp(logits) - logits[ids[fed]];
        importance?.observe(o);
        router.observe?.(o);
      },
      select(context) {
        const published = importance?.importance();
        const selection = router.select(published ? { ...context, importance: published } : context);
        kept.push(selection === undefined ? context.cacheLength : selection.kind === 'shared' ? selection.slots.length : selection.slots[0].length);
        // Which method decided (content-aware's pick, hybrid's score source), on evicting steps.
        const policy = router.lastDecision?.policy;
        if (policy && selection !== undefined) policies[policy] = (policies[policy] ?? 0) + 1;
        return selection;
      },
    },
  };
}

function routerFor(spec, budget, positions = 'absolute') {
  const { name, options: extra } = spec.includes(':') ? parseNamedRef(spec, '--routers') : { name: spec, options: {} };
  const options = { budget, positions, ...extra };
  if (name === 'full') return { router: createRouter('full', { positions }) };
  if (name === 'hybrid+attn') return { router: createRouter('hybrid', options), importance: new AttentionImportanceAnalyzer() };
  if (name === 'sink-window') return { router: createRouter('sink-window', { sinks: 4, budget, positions, ...extra }) };
  return { router: createRouter(name, options) };
}

async function evaluateStory(model, story, name, budget, kv) {
  const { router, importance } = routerFor(name, budget);
  const m = measuring(router, story.ids, importance);
  const started = performance.now();
  const result = await model.evaluate({ inputIds: story.ids, router: m.router, kv });
  const ms = performance.now() - started;
  let hits = 0;
  const perKind = {};
  for (const p of story.probes) {
    let argmax = m.argmax;
    if (!p.aligned) {
      // The story's tokens differ from prompt + answer encoded apart: score the probe on its own.
      const own = measuring(routerFor(name, budget).router, [...p.prefix, ...p.answer]);
      await model.evaluate({ inputIds: [...p.prefix, ...p.answer], router: own.router, kv });
      argmax = own.argmax;
    }
    const hit = p.answer.every((id, j) => argmax[p.prefix.length - 1 + j] === id);
    hits += hit ? 1 : 0;
    perKind[p.kind] = (perKind[p.kind] ?? 0) + (hit ? 1 : 0);
  }
  return { nll: result.nll, tokens: result.tokens, hits, probes: story.probes.length, perKind, ms, maxKept: Math.max(0, ...m.kept), kvBytes: result.kvBytes, kvBytesFp32: result.kvBytesFp32, policies: m.policies };
}

async function measure(name, budget, model = NEEDS_ATTENTIONS.has(baseName(name)) ? withAttentions : plain, kv = KVS[0]) {
  const total = { router: name, budget, kv: kv.label, nll: 0, tokens: 0, hits: 0, probes: 0, perKind: {}, policies: {}, ms: 0, maxKept: 0, kvBytes: 0, kvBytesFp32: 0, graph: model === plain ? 'model.onnx' : 'model_with_attentions.onnx' };
  for (const story of chosen) {
    const r = await evaluateStory(model, story, name, budget, kv.ref);
    total.kvBytes += r.kvBytes / chosen.length; // mean at-rest bytes at the end of a story
    total.kvBytesFp32 += r.kvBytesFp32 / chosen.length;
    total.nll += r.nll;
    total.tokens += r.tokens;
    total.hits += r.hits;
    total.probes += r.probes;
    total.ms += r.ms;
    total.maxKept = Math.max(total.maxKept, r.maxKept);
    for (const [k, v] of Object.entries(r.perKind)) total.perKind[k] = (total.perKind[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.policies)) total.policies[k] = (total.policies[k] ?? 0) + v;
  }
  const perplexity = Math.exp(total.nll / total.tokens);
  log(`  ${kv.label.padEnd(10)} ${name.padEnd(14)} budget ${String(budget ?? '-').padStart(4)}: ppl ${perplexity.toFixed(4)}  recall ${total.hits}/${total.probes}  ${(total.ms / total.tokens).toFixed(2)} ms/token`);
  return { ...total, perplexity, recall: total.hits / total.probes, msPerToken: total.ms / total.tokens };
}

// ---------------------------------------------------------------------------------------------
log(`models: ${modelDir}; ${storyCount} stories (${chosen.reduce((s, c) => s + c.ids.length, 0)} tokens), ${chosen.reduce((s, c) => s + c.probes.length, 0)} probes (${chosen.reduce((s, c) => s + c.probes.filter((p) => !p.aligned).length, 0)} scored apart)`);
const full = await measure('full', undefined);
// How much attention the first tokens draw (the "attention sinks" StreamingLLM keeps): mean
// over layers and heads of the attention mass on positions 0-3, for queries at position >= 64.
const sinkMass = await attentionOnFirstTokens(chosen[0].ids, 4, 64);
log(`  attention on the first 4 tokens (queries >= 64, story 0): ${(100 * sinkMass.mean).toFixed(1)}% (per layer ${sinkMass.perLayer.map((x) => (100 * x).toFixed(1) + '%').join(', ')}); a uniform share would be ${(100 * sinkMass.uniform).toFixed(1)}%`);
// Same weights, other graph: must match `full` (a check that the two graphs agree).
const fullAttn = ROUTERS.some((r) => NEEDS_ATTENTIONS.has(baseName(r))) ? await measure('full', undefined, withAttentions) : undefined;
const rows = [];
if (!args['no-routers']) for (const budget of budgets) for (const name of ROUTERS) rows.push(await measure(name, budget));
// Every other store with `full` and every router (same stories, same probes).
const matrix = [];
for (const kv of args['no-routers'] ? [] : KVS.slice(1)) {
  matrix.push(await measure('full', undefined, plain, kv));
  for (const budget of budgets) for (const name of ROUTERS) matrix.push(await measure(name, budget, undefined, kv));
}

// ---------------------------------------------------------------------------------------------
// Past the trained context: a copy of the model folder whose config allows longer inputs (the
// exported graph computes RoPE from position_ids, so it runs; the model never saw positions
// >= max_position_embeddings in training).
let long;
if (!args['no-long']) long = await pastContext(Number(args['long-tokens'] ?? 3072), Number(args['long-budget'] ?? 256));

await weft.dispose();
const report = { model: modelDir, modelSha256: modelSha, stories: storyCount, budgets, kvs: KVS.map((k) => k.label), full, fullWithAttentionsGraph: fullAttn, sinkMass, rows, matrix, long };
if (json) console.log(JSON.stringify(report, null, 2));
else console.log(markdown(report));
if (args.plot) await plot(report, args.plot);

/** Perplexity against mean at-rest KV bytes for every store × router × budget measured. */
async function plot(report, file) {
  const points = [report.full, ...report.rows, ...(report.matrix ?? [])].map((r) => ({ ...r, kv: r.kv ?? 'fp32' }));
  const svg = qualityMemorySvg(points, {
    title: 'Quality against KV memory: every compressor × router × budget',
    subtitle: `${report.model.split('/').slice(-2).join('/')} (sha256 ${report.modelSha256}…), decode-path perplexity over ${report.stories} long-split stories (${report.full.tokens} tokens); budgets ${report.budgets.join(', ')}`,
    reference: report.full.perplexity,
  });
  if (await renderPng(svg, file)) log(`plot: wrote ${file} and ${file.replace(/\.png$/, '.svg')}`);
}

// ---------------------------------------------------------------------------------------------
async function attentionOnFirstTokens(ids, sinks, from) {
  const perLayer = withAttentions.layout.attentionNames.map(() => ({ sum: 0, n: 0 }));
  let uniform = 0;
  let queries = 0;
  const probe = {
    specificationVersion: 'v1',
    name: 'sink-probe',
    observe(o) {
      o.layout.attentionNames.forEach((name, layer) => {
        const t = o.outputs[name];
        const [, heads, seq, total] = t.dims;
        for (let q = 0; q < seq; q++) {
          const position = total - seq + q;
          if (position < from) continue;
          for (let h = 0; h < heads; h++) {
            const base = (h * seq + q) * total;
            let mass = 0;
            for (let k = 0; k < sinks; k++) mass += t.data[base + k];
            perLayer[layer].sum += mass;
            perLayer[layer].n++;
          }
          if (layer === 0) {
            uniform += sinks / (position + 1);
            queries++;
          }
        }
      });
    },
    select: () => undefined,
  };
  await withAttentions.evaluate({ inputIds: ids, router: probe });
  const means = perLayer.map((l) => l.sum / l.n);
  return { sinks, from, mean: means.reduce((a, b) => a + b, 0) / means.length, perLayer: means, uniform: uniform / queries };
}

async function pastContext(targetTokens, budget) {
  const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8'));
  const trained = config.max_position_embeddings;
  const dir = mkdtempSync(join(tmpdir(), 'weft-long-'));
  try {
    for (const entry of readdirSync(modelDir)) if (entry !== 'config.json') symlinkSync(join(modelDir, entry), join(dir, entry));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, max_position_embeddings: Math.max(trained, targetTokens) * 4 }));
    const extended = await weft.load(dir);
    // Whole stories joined as in the file, with BOS once, until the target length.
    const text = [];
    let ids = [];
    for (const s of stories) {
      text.push(s);
      ids = extended.tokenizer.encode(text.join('\n\n'));
      if (ids.length >= targetTokens) break;
    }
    ids = ids.slice(0, targetTokens);
    const segment = 512;
    const variants = [
      ['full', 'absolute'],
      ['window', 'absolute'],
      ['window', 'cache'],
      ['sink-window', 'absolute'],
      ['sink-window', 'cache'],
    ];
    const results = [];
    for (const [name, positions] of variants) {
      const { router } = routerFor(name, budget, positions);
      const m = measuring(router, ids);
      await extended.evaluate({ inputIds: ids, router: m.router });
      const segments = [];
      for (let from = 0; from < m.nll.length; from += segment) {
        const part = m.nll.slice(from, from + segment);
        segments.push({ from: from + 1, to: from + part.length, perplexity: Math.exp(part.reduce((a, b) => a + b, 0) / part.length) });
      }
      // Free generation past the trained context: greedy continuation of the first story's start.
      const prompt = ids.slice(0, 64);
      const generated = [];
      // EOS is banned so the model writes on (story after story) past the trained context.
      const eos = extended.generationConfig.eosTokenIds;
      const noEos = { name: 'no-eos', process: (logits) => eos.forEach((id) => (logits[id] = -Infinity)) };
      const events = extended.generate({
        inputIds: prompt,
        maxTokens: targetTokens - prompt.length,
        router: routerFor(name, budget, positions).router,
        processors: [noEos],
        temperature: 0,
        metrics: false,
      });
      let logprobSum = 0;
      let after = 0;
      await new Promise((res, rej) =>
        events.subscribe({
          next: (e) => {
            if (e.type !== 'token') return;
            generated.push(e.id);
            if (prompt.length + generated.length > trained) {
              logprobSum += e.logprob;
              after++;
            }
          },
          error: rej,
          complete: res,
        }),
      );
      const tail = generated.slice(trained - prompt.length);
      const distinct3 = tail.length >= 3 ? new Set(tail.slice(2).map((_, i) => tail.slice(i, i + 3).join(','))).size / (tail.length - 2) : 0;
      const r = {
        router: name,
        positions,
        budget: name === 'full' ? undefined : budget,
        segments,
        generated: generated.length,
        tokensPastContext: after,
        meanLogprobPastContext: after > 0 ? logprobSum / after : undefined,
        distinctTrigramsPastContext: distinct3,
        samplePastContext: extended.tokenizer.decode(tail.slice(0, 60)),
      };
      log(`  long ${name}/${positions}: ${segments.map((s) => s.perplexity.toFixed(2)).join(' ')} | generated ${generated.length}, past ${trained}: ${after} tokens, distinct-3 ${distinct3.toFixed(2)}`);
      results.push(r);
    }
    await extended.dispose();
    return { trainedContext: trained, tokens: ids.length, budget, segment, results };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function markdown(r) {
  const out = [];
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  const rel = (p) => `${p >= r.full.perplexity ? '+' : ''}${((100 * (p - r.full.perplexity)) / r.full.perplexity).toFixed(2)}%`;
  const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;
  out.push(`## Attention routers on ${r.model} (onnx/model.onnx sha256 ${r.modelSha256 ?? '?'}…)`);
  out.push('');
  out.push(`Decode-path perplexity and greedy fact recall over ${r.stories} stories of data/long.txt (${r.full.tokens} predicted tokens, ${r.full.probes} probes).`);
  out.push(`full: perplexity ${r.full.perplexity.toFixed(4)}, recall ${r.full.hits}/${r.full.probes} (${pct(r.full.recall)}).`);
  out.push('');
  if (r.sinkMass) {
    out.push(
      `Attention on the first ${r.sinkMass.sinks} tokens (queries at positions ≥ ${r.sinkMass.from}, first story, full cache): ${(100 * r.sinkMass.mean).toFixed(1)}% on average over layers and heads (per layer ${r.sinkMass.perLayer.map((x) => (100 * x).toFixed(1) + '%').join(', ')}); an even spread would give ${(100 * r.sinkMass.uniform).toFixed(1)}%.`,
    );
    out.push('');
  }
  out.push('| router | budget | perplexity | Δ ppl vs full | recall | Δ recall vs full | ms/token | graph |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const row of r.rows) {
    out.push(
      `| ${row.router} | ${row.budget} | ${row.perplexity.toFixed(4)} | ${(row.perplexity - r.full.perplexity >= 0 ? '+' : '') + (row.perplexity - r.full.perplexity).toFixed(4)} | ${row.hits}/${row.probes} (${pct(row.recall)}) | ${((row.recall - r.full.recall) * 100).toFixed(1)} pt | ${row.msPerToken.toFixed(2)} | ${row.graph} |`,
    );
  }
  const mixed = r.rows.filter((row) => ['content-aware', 'hybrid', 'hybrid+attn'].includes(row.router) && row.policies);
  if (mixed.length > 0) {
    out.push('');
    out.push('Which method decided on evicting steps: ' + mixed.map((row) => {
      const n = Object.values(row.policies).reduce((a, b) => a + b, 0);
      return `${row.router}@${row.budget}: ${Object.entries(row.policies).map(([k, v]) => `${k} ${pct(v / n)}`).join(', ')}`;
    }).join('; ') + '.');
  }
  const sw = r.budgets.map((b) => {
    const w = r.rows.find((x) => x.router === 'window' && x.budget === b);
    const s = r.rows.find((x) => x.router === 'sink-window' && x.budget === b);
    return w && s ? `| ${b} | ${w.perplexity.toFixed(4)} | ${s.perplexity.toFixed(4)} | ${w.hits}/${w.probes} | ${s.hits}/${s.probes} |` : undefined;
  });
  if (sw.some(Boolean)) {
    out.push('');
    out.push('### sink-window vs window (same budget)');
    out.push('');
    out.push('| budget | window ppl | sink-window ppl | window recall | sink-window recall |');
    out.push('|---:|---:|---:|---:|---:|');
    out.push(...sw.filter(Boolean));
  }
  if (r.matrix?.length > 0) {
    out.push('');
    out.push('### Every compressor × router × budget');
    out.push('');
    out.push(`Perplexity relative to ${r.kvs?.[0] ?? 'fp32'} + full (${r.full.perplexity.toFixed(4)}) and mean at-rest KV bytes at the end of a story (the ${r.kvs?.[0] ?? 'fp32'} cache of all positions holds ${kib(r.full.kvBytes)}).`);
    out.push('');
    const names = [...new Set(r.matrix.map((x) => x.router))].filter((n) => n !== 'full');
    const cells = (kv, budget) => names.map((n) => r.matrix.find((x) => x.kv === kv && x.router === n && x.budget === budget)).map((x) => (x ? `${rel(x.perplexity)} · ${kib(x.kvBytes)}` : '–'));
    out.push(`| kv | budget | full | ${names.join(' | ')} |`);
    out.push(`|---|---:|---:|${names.map(() => '---:').join('|')}|`);
    for (const kv of [...new Set(r.matrix.map((x) => x.kv))]) {
      const f = r.matrix.find((x) => x.kv === kv && x.router === 'full');
      out.push(`| ${kv} | all | ${f ? `${rel(f.perplexity)} · ${kib(f.kvBytes)}` : '–'} | ${names.map(() => '').join(' | ')} |`);
      for (const budget of r.budgets) out.push(`| ${kv} | ${budget} | | ${cells(kv, budget).join(' | ')} |`);
    }
  }
  if (r.long) {
    const l = r.long;
    out.push('');
    out.push(`### Past the trained context (${l.trainedContext} positions): ${l.tokens} tokens of joined stories, budget ${l.budget}`);
    out.push('');
    out.push(`Perplexity per ${l.segment}-token segment (decode path), then a greedy generation of ${l.tokens - 64} tokens from the first 64.`);
    out.push('');
    out.push(`| router | positions | ${l.results[0].segments.map((s) => `ppl ${s.from}–${s.to}`).join(' | ')} | gen. mean logprob past ${l.trainedContext} | distinct 3-grams past ${l.trainedContext} |`);
    out.push(`|---|---|${l.results[0].segments.map(() => '---:').join('|')}|---:|---:|`);
    for (const x of l.results) {
      out.push(
        `| ${x.router} | ${x.positions} | ${x.segments.map((s) => s.perplexity.toFixed(3)).join(' | ')} | ${x.meanLogprobPastContext?.toFixed(3) ?? '–'} (${x.tokensPastContext} tok) | ${x.distinctTrigramsPastContext.toFixed(2)} |`,
      );
    }
    out.push('');
    for (const x of l.results) out.push(`- ${x.router}/${x.positions}, text after position ${l.trainedContext}: ${JSON.stringify(x.samplePastContext)}`);
  }
  return out.join('\n');
}

function parseArgs(argv) {
  // Flags that take a value, and switches; anything else (a typo) is refused rather than ignored.
  const VALUE_FLAGS = ['stories', 'budgets', 'routers', 'long-tokens', 'long-budget', 'model', 'kv', 'plot', 'from-json'];
  const SWITCHES = ['json', 'no-long', 'no-routers'];
  if (argv.includes('--help') || argv.includes('-h')) {
    // The usage is this file's header comment.
    const header = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
    console.log(header.slice(0, header.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
    process.exit(0);
  }
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    if (key !== undefined && SWITCHES.includes(key)) out[key] = true;
    else if (key !== undefined && VALUE_FLAGS.includes(key) && argv[i + 1] !== undefined) out[key] = argv[++i];
    else {
      const takes = [...VALUE_FLAGS.map((k) => `--${k} V`), ...SWITCHES.map((k) => `--${k}`)].join(', ');
      throw new Error(`unexpected argument ${JSON.stringify(argv[i])}${key !== undefined && VALUE_FLAGS.includes(key) ? ' (it needs a value)' : ''}; routers.mjs takes ${takes} (--help says more)`);
    }
  }
  return out;
}
