import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

/** The model folder under test: `$WEFT_STORY_DIR`, else `models/story` next to this folder. */
export const storyDir = resolve(process.env['WEFT_STORY_DIR'] ?? fileURLToPath(new URL('../story', import.meta.url)));

export function readJson<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(join(storyDir, name), 'utf8')) as T;
}

export interface ModelConfig {
  readonly vocab_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  readonly num_key_value_heads: number;
  readonly head_dim: number;
  readonly bos_token_id: number;
  readonly eos_token_id: number;
  readonly pad_token_id: number;
}

export const config = readJson<ModelConfig>('config.json');

export function openSession(file: string): Promise<ort.InferenceSession> {
  // One thread each: the suite runs two files side by side on small machines.
  return ort.InferenceSession.create(join(storyDir, 'onnx', file), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionProviders: ['cpu'],
  });
}

/** Past key/value tensors per layer, in input order (`past_key_values.{i}.key`, `.value`). */
export type Past = readonly ort.Tensor[];

export function emptyPast(batch: number): Past {
  const out: ort.Tensor[] = [];
  for (let i = 0; i < 2 * config.num_hidden_layers; i++) {
    out.push(new ort.Tensor('float32', new Float32Array(0), [batch, config.num_key_value_heads, 0, config.head_dim]));
  }
  return out;
}

export function int64(rows: readonly (readonly number[])[]): ort.Tensor {
  const b = rows.length;
  const s = rows[0]?.length ?? 0;
  const data = new BigInt64Array(b * s);
  rows.forEach((row, i) => {
    if (row.length !== s) throw new Error('ragged rows');
    row.forEach((v, j) => (data[i * s + j] = BigInt(v)));
  });
  return new ort.Tensor('int64', data, [b, s]);
}

/** Position ids from the attention mask: cumulative sum minus one, clamped at 0, last `seq` slots. */
export function positionsFromMask(mask: readonly (readonly number[])[], seq: number): number[][] {
  return mask.map((row) => {
    let sum = 0;
    const pos = row.map((m) => {
      sum += m;
      return Math.max(sum - 1, 0);
    });
    return pos.slice(pos.length - seq);
  });
}

export const inputNames = (): string[] => {
  const names = ['input_ids', 'attention_mask', 'position_ids'];
  for (let i = 0; i < config.num_hidden_layers; i++) names.push(`past_key_values.${i}.key`, `past_key_values.${i}.value`);
  return names;
};

export const outputNames = (attentions: boolean): string[] => {
  const names = ['logits'];
  for (let i = 0; i < config.num_hidden_layers; i++) names.push(`present.${i}.key`, `present.${i}.value`);
  if (attentions) for (let i = 0; i < config.num_hidden_layers; i++) names.push(`attentions.${i}`);
  return names;
};

export interface StepResult {
  readonly logits: ort.Tensor;
  readonly present: Past;
  readonly attentions: readonly ort.Tensor[];
}

/** One forward pass. `mask` covers past + new tokens; position ids follow from it unless given. */
export async function step(
  session: ort.InferenceSession,
  ids: readonly (readonly number[])[],
  mask: readonly (readonly number[])[],
  past: Past,
  positions?: readonly (readonly number[])[],
): Promise<StepResult> {
  const seq = ids[0]?.length ?? 0;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: int64(ids),
    attention_mask: int64(mask),
    position_ids: int64(positions ?? positionsFromMask(mask, seq)),
  };
  past.forEach((t, i) => (feeds[inputNames()[3 + i]!] = t));
  const out = await session.run(feeds);
  const get = (name: string): ort.Tensor => {
    const t = out[name];
    if (!t) throw new Error(`missing output ${name}`);
    return t;
  };
  const present: ort.Tensor[] = [];
  const attentions: ort.Tensor[] = [];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    present.push(get(`present.${i}.key`), get(`present.${i}.value`));
    if (`attentions.${i}` in out) attentions.push(get(`attentions.${i}`));
  }
  return { logits: get('logits'), present, attentions };
}

export function f32(t: ort.Tensor): Float32Array {
  if (t.type !== 'float32') throw new Error(`expected float32, got ${t.type}`);
  return t.data as Float32Array;
}

/** Logits of row `b` at sequence position `pos` ([batch, seq, vocab]). */
export function logitsAt(t: ort.Tensor, b: number, pos: number): Float32Array {
  const [, s, v] = t.dims as [number, number, number];
  const start = (b * s + pos) * v;
  return f32(t).subarray(start, start + v);
}

export function argmax(xs: Float32Array): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Greedy decoding of one unpadded prompt with the KV cache; returns the new ids and the last-position logits per step. */
export async function greedyCached(
  session: ort.InferenceSession,
  prompt: readonly number[],
  steps: number,
): Promise<{ ids: number[]; logits: Float32Array[] }> {
  const ids: number[] = [];
  const logits: Float32Array[] = [];
  let past = emptyPast(1);
  let mask = prompt.map(() => 1);
  let input = [...prompt];
  for (let n = 0; n < steps; n++) {
    const r = await step(session, [input], [mask], past);
    const last = logitsAt(r.logits, 0, input.length - 1);
    const next = argmax(last);
    ids.push(next);
    logits.push(last.slice());
    past = r.present;
    input = [next];
    mask = [...mask, 1];
  }
  return { ids, logits };
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
