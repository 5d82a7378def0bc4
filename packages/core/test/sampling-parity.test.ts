/**
 * Sampling against the semantics of Hugging Face transformers' `generate(do_sample=True, ...)`:
 * the truncations against references written from transformers' definitions, and the defaults a
 * model's generation_config.json gives, on the story model.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyMinP,
  applyTemperature,
  applyTopK,
  applyTopP,
  argmax,
  ModelLoadError,
  sampleCategorical,
  seededRandom,
  settleNonFinite,
  softmax,
  type GenerationRequest,
  type LogitsContext,
  type WeftModel,
} from '../src/index.js';
import { collect, done, runtime, storyModel } from './helpers.js';

// --- References, written from transformers' definitions (logits_process.py), in float64 unless noted.

/** TopKLogitsWarper: drops every logit below the k-th largest (ties with it stay). */
function referenceTopK(logits: Float32Array, k: number): boolean[] {
  const kth = [...logits].sort((a, b) => b - a)[Math.min(k, logits.length) - 1]!;
  return [...logits].map((v) => v > -Infinity && !(v < kth));
}

/**
 * TopPLogitsWarper: sorts ascending, takes the cumulative softmax, drops every token whose
 * cumulative probability is <= 1 - p, and always keeps the most likely one. Summed in float64:
 * torch sums in float32, whose rounding over a vocabulary can move the boundary by a token among
 * near-equal probabilities. Equal logits are ordered by descending id, so the lower ids come last
 * and stay, as Weft keeps them.
 */
function referenceTopP(logits: Float32Array, p: number): boolean[] {
  const order = [...logits.keys()].sort((a, b) => logits[a]! - logits[b]! || b - a);
  const max = logits[order.at(-1)!]!;
  const sum = order.reduce((s, i) => s + Math.exp(logits[i]! - max), 0);
  const keep = new Array<boolean>(logits.length).fill(true);
  let cumulative = 0;
  order.forEach((id, rank) => {
    cumulative += Math.exp(logits[id]! - max) / sum;
    if (cumulative <= 1 - p && rank < order.length - 1) keep[id] = false;
  });
  return keep;
}

/** MinPLogitsWarper: drops tokens whose probability is below min_p times the top probability. */
function referenceMinP(logits: Float32Array, minP: number): boolean[] {
  const max = Math.max(...logits);
  const sum = [...logits].reduce((s, v) => s + Math.exp(v - max), 0);
  const probs = [...logits].map((v) => Math.exp(v - max) / sum);
  const top = Math.max(...probs);
  return probs.map((q) => !(q < minP * top));
}

const kept = (logits: Float32Array): boolean[] => [...logits].map((v) => v > -Infinity);

/** A row of `n` logits from `random`; `levels` > 0 rounds them to that many values, for ties. */
function row(random: () => number, n: number, levels = 0): Float32Array {
  const l = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = (random() + random() + random() - 1.5) * 6;
    l[i] = levels > 0 ? Math.round(v * levels) / levels : v;
  }
  return l;
}

describe('truncations against transformers', () => {
  it('top-k keeps every logit >= the k-th largest, ties included, for k from 1 past the vocabulary', () => {
    const random = seededRandom(1);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(random() * 300);
      const l = row(random, n, trial % 2 === 0 ? 2 : 0);
      if (trial % 5 === 0) for (let i = 0; i < n; i += 3) l[i] = -Infinity;
      const k = 1 + Math.floor(random() * (n + 3));
      const got = l.slice();
      applyTopK(got, k);
      expect(kept(got), `trial ${trial}, k ${k} of ${n}`).toEqual(referenceTopK(l, k));
      // Kept logits are unchanged.
      got.forEach((v, i) => v > -Infinity && expect(v).toBe(l[i]));
    }
    const off = row(random, 20);
    applyTopK(off, 0);
    expect(kept(off).every(Boolean)).toBe(true);
  });

  it('top-p keeps the tokens whose more likely tokens sum to less than p, as transformers, ties included', () => {
    const random = seededRandom(2);
    for (let trial = 0; trial < 400; trial++) {
      const n = 1 + Math.floor(random() * 200);
      const l = row(random, n, trial % 3 === 0 ? 1 : 0);
      if (trial % 4 === 0) applyTopK(l, 1 + Math.floor(random() * n)); // top-k before top-p, as generate runs them
      const p = [0.05, 0.5, 0.9, 0.95, random()][trial % 5]! || 0.3;
      const got = l.slice();
      applyTopP(got, p);
      expect(kept(got), `trial ${trial}, p ${p}`).toEqual(referenceTopP(l, p));
    }
    // Vocabulary-sized rows, ties included.
    for (const levels of [0, 4]) {
      const l = row(random, 32000, levels);
      const got = l.slice();
      applyTopP(got, 0.9);
      expect(kept(got)).toEqual(referenceTopP(l, 0.9));
    }
    // Four equally likely tokens, p = 0.5: two stay (the lower ids).
    const flat = new Float32Array(4);
    applyTopP(flat, 0.5);
    expect(kept(flat)).toEqual([true, true, false, false]);
  });

  it('min-p keeps tokens with at least minP times the top probability, the floor itself included', () => {
    const random = seededRandom(3);
    for (let trial = 0; trial < 300; trial++) {
      const l = row(random, 1 + Math.floor(random() * 200), trial % 2 === 0 ? 1 : 0);
      const minP = [0.01, 0.1, 0.5, random()][trial % 4]!;
      const got = l.slice();
      applyMinP(got, minP);
      expect(kept(got), `trial ${trial}, minP ${minP}`).toEqual(referenceMinP(l, minP));
    }
    // min_p = 1 (transformers accepts it): exactly the tokens tied with the top one stay.
    const tied = Float32Array.from([1, 3, 3, 2.9999998]);
    applyMinP(tied, 1);
    expect(kept(tied)).toEqual([false, true, true, false]);
  });

  it('drops NaN logits in top-k, top-p and min-p instead of keeping them (or everything)', () => {
    for (const apply of [(l: Float32Array) => applyTopK(l, 1), (l: Float32Array) => applyTopP(l, 0.5), (l: Float32Array) => applyMinP(l, 0.5)]) {
      const l = Float32Array.from([Number.NaN, 1, 4, Number.NaN]);
      apply(l);
      expect([...l]).toEqual([-Infinity, -Infinity, 4, -Infinity]);
    }
  });

  it('draws the token where the cumulative softmax first exceeds u, as before the draw stopped allocating', () => {
    const random = seededRandom(4);
    for (let trial = 0; trial < 500; trial++) {
      const l = row(random, 1 + Math.floor(random() * 300));
      if (trial % 2 === 0) applyTopK(l, 1 + Math.floor(random() * 60));
      const probs = softmax(l);
      const u = random();
      let cumulative = 0;
      let expected = -1;
      for (let i = 0; i < probs.length && expected < 0; i++) if (probs[i]! > 0 && u < (cumulative += probs[i]!)) expected = i;
      if (expected < 0) expected = probs.findLastIndex((q) => q > 0);
      expect(sampleCategorical(l, u), `trial ${trial}`).toBe(expected);
    }
  });

  it('keeps a tiny temperature finite and a single finite logit certain through every step', () => {
    const l = Float32Array.from([0.5, 3, 2.999, -1]);
    applyTemperature(l, 1e-6);
    applyTopK(l, 50);
    applyTopP(l, 0.9);
    applyMinP(l, 0.1);
    expect([...l].every((v) => !Number.isNaN(v))).toBe(true);
    expect([0, 0.5, 0.999999].map((u) => sampleCategorical(l, u))).toEqual([1, 1, 1]);
    const one = Float32Array.from([-Infinity, -Infinity, 7, -Infinity]);
    settleNonFinite(one);
    applyTemperature(one, 0.7);
    applyTopK(one, 2);
    applyTopP(one, 0.1);
    applyMinP(one, 0.9);
    expect([...one]).toEqual([-Infinity, -Infinity, 0, -Infinity]);
    expect([0, 0.999999].map((u) => sampleCategorical(one, u))).toEqual([2, 2]);
  });
});

/** Each row's recorded logits per step, as request processors see them (after the repetition penalty). */
function recorder() {
  const seen = new Map<string, Float32Array>();
  return {
    at: (row: number, step: number): Float32Array => seen.get(`${row}:${step}`)!,
    processor: { name: 'record', process: (l: Float32Array, c: LogitsContext) => void seen.set(`${c.row}:${c.step}`, l.slice()) },
  };
}

/** A copy of `logits` scaled by `temperature` as sampling scales them. */
function scaled(logits: Float32Array, temperature: number): Float32Array {
  const l = logits.slice();
  applyTemperature(l, temperature);
  return l;
}

/** How many logits of `logits` (after `temperature`) are larger than that of `id`. */
function rank(logits: Float32Array, id: number, temperature: number): number {
  const l = scaled(logits, temperature);
  return l.reduce((n, v) => (v > l[id]! ? n + 1 : n), 0);
}

describe('sampling defaults from generation_config.json, on the story model', () => {
  const weft = runtime();
  let scratch: string;
  const loaded = new Map<string, WeftModel>();
  /** The story model with `generationConfig` as its generation_config.json. */
  const story = async (generationConfig: Record<string, unknown>): Promise<WeftModel> => {
    const key = JSON.stringify(generationConfig);
    if (!loaded.has(key)) {
      const dir = join(scratch, String(loaded.size));
      await cp(storyModel, dir, { recursive: true, filter: (path) => !path.includes('/data') });
      await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 0, ...generationConfig }));
      loaded.set(key, await weft.load(dir));
    }
    return loaded.get(key)!;
  };
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'weft-sampling-'));
  });
  afterAll(async () => {
    await weft.dispose();
    await rm(scratch, { recursive: true, force: true });
  });

  /** Every sampled token of a few seeds, with the logits it was drawn from. */
  const draws = async (model: WeftModel, request: GenerationRequest) => {
    const out: { id: number; logits: Float32Array }[] = [];
    for (const seed of [1, 2, 3, 4]) {
      const r = recorder();
      const result = done(await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 40, ignoreEos: true, seed, processors: [r.processor], ...request })));
      result.rows[0]!.ids.forEach((id, step) => out.push({ id, logits: r.at(0, step) }));
    }
    return out;
  };
  const worstRank = (all: { id: number; logits: Float32Array }[], temperature: number) => Math.max(...all.map((d) => rank(d.logits, d.id, temperature)));

  it('samples from the 50 most likely tokens when neither the request nor the file gives top_k (transformers default)', async () => {
    const model = await story({ do_sample: false });
    expect(worstRank(await draws(model, { temperature: 2 }), 2)).toBeLessThan(50);
    // Without the cut, this temperature does draw tokens ranked past 50: the check above can fail.
    expect(worstRank(await draws(model, { temperature: 2, topK: 0 }), 2)).toBeGreaterThanOrEqual(50);
    // A file that samples without a top_k gets the same default.
    expect(worstRank(await draws(await story({ do_sample: true, temperature: 2 }), {}), 2)).toBeLessThan(50);
  });

  it('applies the file\'s top_k, top_p and min_p to every sampled request, do_sample or not; the request wins', async () => {
    const greedyFile = await story({ do_sample: false, top_k: 5 });
    expect(worstRank(await draws(greedyFile, { temperature: 2 }), 2)).toBeLessThan(5);
    expect(worstRank(await draws(greedyFile, { temperature: 2, topK: 20 }), 2)).toBeGreaterThanOrEqual(5);
    // min_p is measured on the probabilities after temperature.
    const minP = await story({ do_sample: true, temperature: 0.7, min_p: 0.1 });
    for (const d of await draws(minP, {})) expect(referenceMinP(scaled(d.logits, 0.7), 0.1)[d.id]).toBe(true);
    const unfiltered = await draws(minP, { minP: 0 });
    expect(unfiltered.some((d) => !referenceMinP(scaled(d.logits, 0.7), 0.1)[d.id])).toBe(true);
    // top_p of the file, after its top_k.
    const topP = await story({ do_sample: true, temperature: 1.5, top_p: 0.5 });
    for (const d of await draws(topP, {})) {
      const l = scaled(d.logits, 1.5);
      applyTopK(l, 50);
      expect(referenceTopP(l, 0.5)[d.id]).toBe(true);
    }
  });

  it('reads top_k: null as top-k off, as transformers does, not as absent', async () => {
    const model = await story({ do_sample: true, temperature: 2, top_k: null });
    expect(worstRank(await draws(model, {}), 2)).toBeGreaterThanOrEqual(50);
  });

  it('refuses a min_p outside [0, 1] at load', async () => {
    const error = await story({ do_sample: true, min_p: 1.5 }).catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/generation_config\.json: min_p must be in \[0, 1\] \(got 1\.5\); fix or remove it\./);
  });
});

describe('warper order, repetition penalty and seeds, on the story model', () => {
  const weft = runtime();
  let model: WeftModel;
  beforeAll(async () => {
    model = await weft.load(storyModel);
  });
  afterAll(() => weft.dispose());
  const prompts = ['Once upon a time, there was a little girl named Lily. Lily liked the sun.', 'Tom'];

  it('penalises each prompt or generated id once per step, never a left pad, and greedy takes the penalised argmax', async () => {
    const raw = new Map<string, Float32Array>();
    const r = recorder();
    const penalty = 1.7;
    const events = await collect(
      model.generate({
        prompt: prompts,
        maxTokens: 16,
        repetitionPenalty: penalty,
        processors: [r.processor],
        analyzers: [{ name: 'raw', observe: (o) => void o.logits.forEach((l, row) => raw.set(`${row}:${o.step}`, l.slice())) }],
      }),
    );
    const start = events[0]!;
    if (start.type !== 'start') throw new Error('expected a start event first');
    // The second row is left-padded with the pad id, which is no token of either prompt.
    const padId = model.generationConfig.padTokenId;
    expect(start.promptIds[1]!.length).toBeLessThan(start.promptIds[0]!.length);
    expect(start.promptIds.flat()).not.toContain(padId);
    let padChecked = 0;
    done(events).rows.forEach((row, index) => {
      const prompt = start.promptIds[index]!;
      if (index === 0) expect(new Set(prompt).size).toBeLessThan(prompt.length); // a repeated id: penalised once
      row.ids.forEach((id, step) => {
        const before = raw.get(`${index}:${step}`)!;
        const after = r.at(index, step);
        const seen = new Set([...prompt, ...row.ids.slice(0, step)]);
        const expected = before.map((v, token) => (seen.has(token) ? (v > 0 ? v / penalty : v * penalty) : v));
        expect(after, `row ${index}, step ${step}`).toEqual(expected);
        if (!seen.has(padId)) {
          expect(after[padId]).toBe(before[padId]);
          padChecked++;
        }
        expect(id).toBe(argmax(after));
      });
    });
    expect(padChecked).toBeGreaterThan(0);
  });

  it('scales by temperature before top-p and min-p cut, as transformers orders its warpers', async () => {
    // Two tokens with probabilities 1 : r before temperature, 1 : r^2 after temperature 0.5.
    const pair = (r: number) => ({
      name: `pair-${r}`,
      process: (l: Float32Array) => {
        l.fill(-Infinity);
        l[10] = 0;
        l[20] = Math.log(r);
      },
    });
    const drawn = async (request: GenerationRequest) => {
      const ids = new Set<number>();
      for (const seed of [1, 2, 3, 4]) for (const id of done(await collect(model.generate({ prompt: 'Tom', maxTokens: 30, seed, ...request }))).rows[0]!.ids) ids.add(id);
      return [...ids].sort((a, b) => a - b);
    };
    // Before temperature, id 20 has 1/3 of the mass (top-p 0.7 keeps it); after, 1/5 (it goes).
    expect(await drawn({ temperature: 0.5, topP: 0.7, processors: [pair(0.5)] })).toEqual([10]);
    expect(await drawn({ temperature: 0.5, topP: 1, processors: [pair(0.5)] })).toEqual([10, 20]);
    // Before temperature, id 20 is at 0.3 of the top probability (min-p 0.1 keeps it); after, 0.09 (it goes).
    expect(await drawn({ temperature: 0.5, minP: 0.1, processors: [pair(0.3)] })).toEqual([10]);
    expect(await drawn({ temperature: 0.5, minP: 0, processors: [pair(0.3)] })).toEqual([10, 20]);
  });

  it('draws one number per active row per step from one seeded generator, in row order', async () => {
    const [a, b, eos] = [10, 20, model.generationConfig.eosTokenIds[0]!];
    // Rows pick `a` or `b`, equally likely, so a draw u < 0.5 gives `a`; row 1 is made to end at step 2.
    const coin = {
      name: 'coin',
      process: (l: Float32Array, c: LogitsContext) => {
        l.fill(-Infinity);
        if (c.row === 1 && c.step === 2) l[eos] = 0;
        else l[a] = l[b] = 0;
      },
    };
    const request = { prompt: [...prompts, 'The dog'], maxTokens: 6, temperature: 0.9, seed: 123, processors: [coin] };
    const rows = done(await collect(model.generate(request))).rows.map((r) => r.ids);
    const u = seededRandom(123);
    const expected: number[][] = [[], [], []];
    let rowOneActive = true;
    for (let step = 0; step < 6; step++) {
      for (let row = 0; row < 3; row++) {
        if (row === 1 && !rowOneActive) continue;
        const draw = u();
        if (row === 1 && step === 2) rowOneActive = false;
        else expected[row]!.push(draw < 0.5 ? a : b);
      }
    }
    expect(rows).toEqual(expected);
    expect(new Set(rows[0]).size).toBe(2); // both sides of the coin came up
    // The same seed repeats the run; another seed does not.
    expect(done(await collect(model.generate(request))).rows.map((r) => r.ids)).toEqual(rows);
    expect(done(await collect(model.generate({ ...request, seed: 124 }))).rows.map((r) => r.ids)).not.toEqual(rows);
  });
});

describe('minP of 1 and topP of 0', () => {
  it('keeps only the most likely tokens (ties included), as generation_config min_p 1 does', () => {
    const logits = Float32Array.of(0.5, 2, 2, -1, 1.9);
    applyMinP(logits, 1);
    expect(Array.from(logits)).toEqual([-Infinity, 2, 2, -Infinity, -Infinity]);
  });

  it('is accepted in a request: sampling at any temperature then picks the greedy tokens', async () => {
    const weft = runtime();
    try {
      const model = await weft.load(storyModel);
      const prompt = 'Once upon a time, there was a little fox named';
      const greedy = done(await collect(model.generate({ prompt, maxTokens: 16 }))).rows[0]!.ids;
      const sampled = done(await collect(model.generate({ prompt, maxTokens: 16, temperature: 1.5, minP: 1, seed: 3 }))).rows[0]!.ids;
      expect(sampled).toEqual(greedy);
      // topP of 0 too (transformers accepts top_p 0): only the most likely token stays.
      const nucleus = done(await collect(model.generate({ prompt, maxTokens: 16, temperature: 1.5, topP: 0, seed: 3 }))).rows[0]!.ids;
      expect(nucleus).toEqual(greedy);
    } finally {
      await weft.dispose();
    }
  });
});
