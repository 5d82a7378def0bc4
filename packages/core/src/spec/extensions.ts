/**
 * Contracts for extension points that later packages implement (quantizers, strategy selection,
 * vision). Core defines them so plugins agree on one shape; core itself does not call them yet.
 */

/** Features of a request that strategy selectors decide on. */
export interface RequestFeatures {
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly batchSize: number;
}

/** Picks a pipeline configuration (e.g. KV store and router names) per request; learns from reward. */
export interface StrategySelector {
  readonly name: string;
  choose(features: RequestFeatures): { readonly kv?: string; readonly router?: string };
  reward?(features: RequestFeatures, choice: { readonly kv?: string; readonly router?: string }, value: number): void;
}

/** ONNX model in, ONNX model out (weight quantizers and other graph rewrites). */
export interface ModelTransform {
  readonly name: string;
  transform(model: Uint8Array): Promise<Uint8Array>;
}

/** Pixels (CHW float32) to image embeddings [tokens, hidden]. */
export interface VisionEncoder {
  readonly name: string;
  encode(pixels: Float32Array, dims: readonly [number, number, number]): Promise<{ data: Float32Array; dims: readonly number[] }>;
}

/** Merges image embeddings into the decoder's input embeddings. */
export interface VisionFusion {
  readonly name: string;
  fuse(text: { data: Float32Array; dims: readonly number[] }, image: { data: Float32Array; dims: readonly number[] }): { data: Float32Array; dims: readonly number[] };
}

/** Maps generated tokens to image regions. */
export interface Grounder {
  readonly name: string;
  ground(tokenIndex: number, attention: Float32Array): { x: number; y: number; w: number; h: number; score: number }[];
}
