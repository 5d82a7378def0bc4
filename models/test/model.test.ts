import { Tokenizer } from '@huggingface/tokenizers';
import type { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  argmax,
  config,
  emptyPast,
  f32,
  greedyCached,
  inputNames,
  logitsAt,
  maxAbsDiff,
  openSession,
  outputNames,
  readJson,
  step,
  storyDir,
  type Past,
} from './helpers.js';

const tokenizer = new Tokenizer(readJson('tokenizer.json'), readJson('tokenizer_config.json'));
const encode = (text: string): number[] => tokenizer.encode(text).ids; // with BOS

let plain: InferenceSession;
let withAttentions: InferenceSession;

beforeAll(async () => {
  [plain, withAttentions] = await Promise.all([openSession('model.onnx'), openSession('model_with_attentions.onnx')]);
});

afterAll(async () => {
  await Promise.all([plain?.release(), withAttentions?.release()]);
});

describe(`story model ONNX graph (${storyDir})`, () => {
  it('has the Optimum input/output names', () => {
    expect(plain.inputNames).toEqual(inputNames());
    expect(plain.outputNames).toEqual(outputNames(false));
    expect(withAttentions.inputNames).toEqual(inputNames());
    expect(withAttentions.outputNames).toEqual(outputNames(true));
  });

  it('greedy decoding with the KV cache equals recomputing the whole sequence each step', async () => {
    const prompt = encode('Once upon a time, there was a little fox named Max. One day,');
    expect(prompt[0]).toBe(config.bos_token_id);
    const steps = 40;
    const { vocab_size: vocab, num_key_value_heads: kv, head_dim: hd } = config;

    // Cached: the prompt at past length 0 (empty past tensors), then one token per step.
    const cachedIds: number[] = [];
    const cachedLogits: Float32Array[] = [];
    let past: Past = emptyPast(1);
    let mask = prompt.map(() => 1);
    let input = [...prompt];
    for (let n = 0; n < steps; n++) {
      const pastLen = mask.length - input.length;
      const r = await step(plain, [input], [mask], past);
      expect(r.logits.dims).toEqual([1, input.length, vocab]);
      for (const t of r.present) expect(t.dims).toEqual([1, kv, pastLen + input.length, hd]);
      // The present cache starts with the past that went in, unchanged.
      if (pastLen > 0) {
        for (let i = 0; i < past.length; i++) {
          const before = f32(past[i]!);
          const after = f32(r.present[i]!);
          for (let h = 0; h < kv; h++) {
            const a = before.subarray(h * pastLen * hd, (h + 1) * pastLen * hd);
            const b = after.subarray(h * (pastLen + 1) * hd, h * (pastLen + 1) * hd + pastLen * hd);
            expect(maxAbsDiff(a, b)).toBe(0);
          }
        }
      }
      const last = logitsAt(r.logits, 0, input.length - 1);
      const next = argmax(last);
      cachedIds.push(next);
      cachedLogits.push(last.slice());
      past = r.present;
      input = [next];
      mask = [...mask, 1];
    }

    // Uncached: the full sequence every step, past length 0.
    const fullIds: number[] = [];
    const seq = [...prompt];
    for (let n = 0; n < steps; n++) {
      const r = await step(plain, [seq], [seq.map(() => 1)], emptyPast(1));
      expect(r.logits.dims).toEqual([1, seq.length, vocab]);
      for (const t of r.present) expect(t.dims).toEqual([1, kv, seq.length, hd]);
      const last = logitsAt(r.logits, 0, seq.length - 1);
      expect(maxAbsDiff(last, cachedLogits[n]!)).toBeLessThan(1e-3);
      const next = argmax(last);
      fullIds.push(next);
      seq.push(next);
    }
    expect(cachedIds).toEqual(fullIds);
    expect(cachedIds).toHaveLength(steps);
  });

  it('position_ids drive the rotary embeddings (relative: a constant shift keeps the logits)', async () => {
    const prompt = encode('Mia found a shiny stone by the river.');
    const mask = [prompt.map(() => 1)];
    const base = await step(plain, [prompt], mask, emptyPast(1));
    const shifted = await step(plain, [prompt], mask, emptyPast(1), [prompt.map((_, i) => i + 7)]);
    const zeros = await step(plain, [prompt], mask, emptyPast(1), [prompt.map(() => 0)]);
    expect(maxAbsDiff(f32(base.logits), f32(shifted.logits))).toBeLessThan(1e-3);
    expect(maxAbsDiff(f32(base.logits), f32(zeros.logits))).toBeGreaterThan(1e-2);
  });

  it('a left-padded batch of two prompts decodes each row as if it ran alone', async () => {
    const prompts = [
      encode('Lily had a red ball. She liked to play with it in the garden every day.'),
      encode('Tom saw a big dog.'),
    ];
    expect(prompts[0]!.length).toBeGreaterThan(prompts[1]!.length + 5);
    const steps = 30;
    const alone = await Promise.all(prompts.map((p) => greedyCached(plain, p, steps)));

    const width = Math.max(...prompts.map((p) => p.length));
    const pad = config.pad_token_id;
    expect(pad).toBe(0);
    let input = prompts.map((p) => [...Array<number>(width - p.length).fill(pad), ...p]);
    let mask = prompts.map((p) => [...Array<number>(width - p.length).fill(0), ...p.map(() => 1)]);
    let past: Past = emptyPast(2);
    const out: number[][] = [[], []];
    for (let n = 0; n < steps; n++) {
      const r = await step(plain, input, mask, past);
      expect(r.logits.dims).toEqual([2, input[0]!.length, config.vocab_size]);
      const next: number[] = [];
      for (let b = 0; b < 2; b++) {
        const last = logitsAt(r.logits, b, input[0]!.length - 1);
        expect(maxAbsDiff(last, alone[b]!.logits[n]!)).toBeLessThan(1e-3);
        next.push(argmax(last));
        out[b]!.push(next[b]!);
      }
      past = r.present;
      input = next.map((t) => [t]);
      mask = mask.map((row) => [...row, 1]);
    }
    expect(out[0]).toEqual(alone[0]!.ids);
    expect(out[1]).toEqual(alone[1]!.ids);
  });

  it('model_with_attentions: causal attention rows that sum to 1, and the same logits as model.onnx', async () => {
    const heads = config.num_attention_heads;
    const prompt = encode('The little bird sang a song in the tall tree.');
    const more = encode(' Then it flew home').slice(1); // no BOS: a 3+ token chunk after the prompt
    expect(more.length).toBeGreaterThanOrEqual(3);

    // Prompt at past 0, then a multi-token chunk with past (the diagonal is offset by the past length).
    const chunks: [number[], number[]][] = [
      [prompt, prompt.map(() => 1)],
      [more, [...prompt, ...more].map(() => 1)],
    ];
    let pastA: Past = emptyPast(1);
    let pastP: Past = emptyPast(1);
    for (const [ids, mask] of chunks) {
      const seq = ids.length;
      const total = mask.length;
      const pastLen = total - seq;
      const a = await step(withAttentions, [ids], [mask], pastA);
      const p = await step(plain, [ids], [mask], pastP);
      expect(a.logits.dims).toEqual(p.logits.dims);
      expect(maxAbsDiff(f32(a.logits), f32(p.logits))).toBeLessThan(1e-4);
      for (let i = 0; i < a.present.length; i++) expect(maxAbsDiff(f32(a.present[i]!), f32(p.present[i]!))).toBeLessThan(1e-4);
      expect(a.attentions).toHaveLength(config.num_hidden_layers);
      for (const att of a.attentions) {
        expect(att.dims).toEqual([1, heads, seq, total]);
        const data = f32(att);
        for (let h = 0; h < heads; h++) {
          for (let q = 0; q < seq; q++) {
            const row = data.subarray((h * seq + q) * total, (h * seq + q + 1) * total);
            let sum = 0;
            for (let k = 0; k < total; k++) {
              const w = row[k]!;
              expect(w).toBeGreaterThanOrEqual(0);
              if (k > pastLen + q) expect(w).toBeLessThan(1e-12);
              sum += w;
            }
            expect(Math.abs(sum - 1)).toBeLessThan(1e-4);
          }
        }
      }
      pastA = a.present;
      pastP = p.present;
    }
  });

  it('model_with_attentions: real tokens give no weight to left padding', async () => {
    const prompts = [encode('Sam and Mia built a small boat.'), encode('It rained.')];
    const width = Math.max(...prompts.map((p) => p.length));
    const padCount = prompts.map((p) => width - p.length);
    const ids = prompts.map((p, b) => [...Array<number>(padCount[b]!).fill(config.pad_token_id), ...p]);
    const mask = prompts.map((p, b) => [...Array<number>(padCount[b]!).fill(0), ...p.map(() => 1)]);
    const a = await step(withAttentions, ids, mask, emptyPast(2));
    const p = await step(plain, ids, mask, emptyPast(2));
    expect(maxAbsDiff(f32(a.logits), f32(p.logits))).toBeLessThan(1e-4);
    const heads = config.num_attention_heads;
    for (const att of a.attentions) {
      expect(att.dims).toEqual([2, heads, width, width]);
      const data = f32(att);
      for (let b = 0; b < 2; b++) {
        for (let h = 0; h < heads; h++) {
          for (let q = padCount[b]!; q < width; q++) {
            const row = data.subarray(((b * heads + h) * width + q) * width, ((b * heads + h) * width + q + 1) * width);
            let sum = 0;
            row.forEach((w, k) => {
              if (k < padCount[b]! || k > q) expect(w).toBeLessThan(1e-12);
              sum += w;
            });
            expect(Math.abs(sum - 1)).toBeLessThan(1e-4);
          }
        }
      }
    }
    // And the padded row's last logits equal the row run alone.
    const alone = await step(plain, [prompts[1]!], [prompts[1]!.map(() => 1)], emptyPast(1));
    expect(maxAbsDiff(logitsAt(p.logits, 1, width - 1), logitsAt(alone.logits, 0, prompts[1]!.length - 1))).toBeLessThan(1e-3);
  });
});
