/**
 * A bare greedy decoding loop written directly against onnxruntime-node, with no Weft code in
 * the path: the baseline `weft bench` compares Weft's generation loop with. It reads config.json,
 * runs on its own session or on one lent to it, feeds `input_ids` / `attention_mask` / `position_ids` and an empty
 * `past_key_values.*` at step 0, feeds each step's `present.*` back, and takes the argmax in JS.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { ModelLoadError } from '@weft/core';

/** Graph files tried in order, as Weft's loader tries them. */
const GRAPH_CANDIDATES = ['onnx/model.onnx', 'onnx/decoder_model_merged.onnx', 'model.onnx'];

/** One request of the bare loop: its ids and where its time went. */
export interface BareRunResult {
  /** Generated ids per row. */
  readonly ids: number[][];
  /** `performance.now()` right after each step's token was picked. */
  readonly tokenTimes: number[];
  /** Milliseconds inside `session.run` per step (step 0 is the prefill). */
  readonly runMs: number[];
}

/**
 * The bench's reference: greedy decoding straight on an onnxruntime-node session (feeds, `run`,
 * argmax), with no Weft code, on the same graph and session options as Weft's side.
 */
export class BareGreedyLoop {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** Whether `release` releases the session (false when it was lent by `onSession`). */
    private readonly ownsSession: boolean,
    private readonly numLayers: number,
    private readonly numKvHeads: number,
    private readonly headDim: number,
  ) {}

  /** Loads `dir` (config.json + its ONNX graph) on a session of its own with the given options. */
  static async load(dir: string, sessionOptions: ort.InferenceSession.SessionOptions, onnxFile?: string): Promise<BareGreedyLoop> {
    const shape = await readShape(dir);
    const session = await ort.InferenceSession.create(await findGraph(dir, onnxFile), sessionOptions);
    return new BareGreedyLoop(session, true, shape.numLayers, shape.numKvHeads, shape.headDim);
  }

  /**
   * Runs on a session lent by its owner (e.g. the one Weft loaded `dir` on), which `release`
   * leaves alone. Both loops then run the same weights and arena, so what differs between them is
   * only the code around `session.run`.
   */
  static async onSession(dir: string, session: ort.InferenceSession): Promise<BareGreedyLoop> {
    const shape = await readShape(dir);
    return new BareGreedyLoop(session, false, shape.numLayers, shape.numKvHeads, shape.headDim);
  }

  /**
   * Greedy decoding of exactly `tokens` new tokens per row (no EOS check; fewer only when
   * `signal` aborts, checked before each step). Rows must have equal lengths (no padding).
   * Returns the ids and the time each step's token was picked.
   */
  async generate(prompts: readonly (readonly number[])[], tokens: number, signal?: AbortSignal): Promise<BareRunResult> {
    const batch = prompts.length;
    const inputs = new Set(this.session.inputNames);
    const ids: number[][] = prompts.map(() => []);
    const tokenTimes: number[] = [];
    const runMs: number[] = [];
    let past: Record<string, ort.Tensor> = {};
    for (let i = 0; i < this.numLayers; i++) {
      for (const kind of ['key', 'value']) {
        past[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [batch, this.numKvHeads, 0, this.headDim]);
      }
    }
    let step: readonly (readonly number[])[] = prompts;
    let pastLength = 0;
    for (let t = 0; t < tokens && !signal?.aborted; t++) {
      const seq = step[0]!.length;
      const total = pastLength + seq;
      const inputIds = new BigInt64Array(batch * seq);
      step.forEach((row, r) => row.forEach((id, c) => (inputIds[r * seq + c] = BigInt(id))));
      const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', inputIds, [batch, seq]) };
      if (inputs.has('attention_mask')) {
        feeds['attention_mask'] = new ort.Tensor('int64', new BigInt64Array(batch * total).fill(1n), [batch, total]);
      }
      if (inputs.has('position_ids')) {
        const positions = new BigInt64Array(batch * seq);
        for (let r = 0; r < batch; r++) for (let c = 0; c < seq; c++) positions[r * seq + c] = BigInt(pastLength + c);
        feeds['position_ids'] = new ort.Tensor('int64', positions, [batch, seq]);
      }
      // Optimum merged decoders switch between their no-cache and with-cache branches on this flag.
      if (inputs.has('use_cache_branch')) feeds['use_cache_branch'] = new ort.Tensor('bool', Uint8Array.of(pastLength > 0 ? 1 : 0), [1]);
      Object.assign(feeds, past);
      const runStart = performance.now();
      const outputs = await this.session.run(feeds);
      runMs.push(performance.now() - runStart);
      const logits = outputs['logits']!;
      const vocab = logits.dims[2]!;
      const data = logits.data as Float32Array;
      const next: number[] = [];
      for (let r = 0; r < batch; r++) {
        const offset = ((r + 1) * seq - 1) * vocab;
        let best = 0;
        let bestValue = -Infinity;
        for (let v = 0; v < vocab; v++) {
          const x = data[offset + v]!;
          if (x > bestValue) {
            bestValue = x;
            best = v;
          }
        }
        ids[r]!.push(best);
        next.push(best);
      }
      tokenTimes.push(performance.now());
      past = {};
      for (let i = 0; i < this.numLayers; i++) {
        past[`past_key_values.${i}.key`] = outputs[`present.${i}.key`]!;
        past[`past_key_values.${i}.value`] = outputs[`present.${i}.value`]!;
      }
      pastLength = total;
      step = next.map((id) => [id]);
    }
    return { ids, tokenTimes, runMs };
  }

  async release(): Promise<void> {
    if (this.ownsSession) await this.session.release();
  }
}

async function readShape(dir: string): Promise<{ numLayers: number; numKvHeads: number; headDim: number }> {
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, number | undefined>;
  const numLayers = config['num_hidden_layers'] ?? config['n_layer'];
  const numHeads = config['num_attention_heads'] ?? config['n_head'];
  const hidden = config['hidden_size'] ?? config['n_embd'];
  if (numLayers === undefined || numHeads === undefined || hidden === undefined) {
    throw new ModelLoadError(`${join(dir, 'config.json')} lacks num_hidden_layers, num_attention_heads or hidden_size, which the bare loop needs.`, {
      path: join(dir, 'config.json'),
    });
  }
  return { numLayers, numKvHeads: config['num_key_value_heads'] ?? numHeads, headDim: config['head_dim'] ?? hidden / numHeads };
}

async function findGraph(dir: string, onnxFile: string | undefined): Promise<string> {
  for (const file of onnxFile ? [onnxFile] : GRAPH_CANDIDATES) {
    const path = join(dir, file);
    if ((await stat(path).catch(() => undefined))?.isFile()) return path;
  }
  throw new ModelLoadError(`No ONNX graph in ${dir} (looked for ${(onnxFile ? [onnxFile] : GRAPH_CANDIDATES).join(', ')}).`, { path: dir });
}
