import type { BackendTensor, ForwardObservation, KvLayout, KvSelection, RoutingContext } from '@weft/core';

export const tensor = (data: number[], dims: number[]): BackendTensor => ({ type: 'float32', dims, data: Float32Array.from(data), dispose() {} });

/** A layout with `layers` layers of `kvHeads` key/value heads; attentions optional. */
export function layout(options: { layers?: number; kvHeads?: number; headDim?: number; attentions?: boolean } = {}): KvLayout {
  const layers = options.layers ?? 1;
  const names = (f: (i: number) => string): string[] => Array.from({ length: layers }, (_, i) => f(i));
  return {
    numLayers: layers,
    numKvHeads: options.kvHeads ?? 2,
    headDim: options.headDim ?? 2,
    pastKeyNames: names((i) => `past_key_values.${i}.key`),
    pastValueNames: names((i) => `past_key_values.${i}.value`),
    presentKeyNames: names((i) => `present.${i}.key`),
    presentValueNames: names((i) => `present.${i}.value`),
    attentionNames: options.attentions ? names((i) => `attentions.${i}`) : [],
    hasPast: true,
    hasPositionIds: true,
    hasAttentionMask: true,
  };
}

export function observation(
  kv: KvLayout,
  parts: {
    step?: number;
    batchSize?: number;
    inputIds?: number[][];
    logits?: number[][];
    outputs?: Record<string, BackendTensor>;
    /** Left over (absent) unless given, as third-party code that builds observations does. */
    padding?: number[];
    active?: boolean[];
  },
): ForwardObservation {
  return {
    step: parts.step ?? 0,
    batchSize: parts.batchSize ?? 1,
    inputIds: parts.inputIds ?? [[1]],
    logits: (parts.logits ?? [[0, 0]]).map((l) => Float32Array.from(l)),
    outputs: parts.outputs ?? {},
    layout: kv,
    ...(parts.padding ? { padding: parts.padding } : {}),
    ...(parts.active ? { active: parts.active } : {}),
  };
}

/** A routing context for a cache of `cacheLength` slots at positions 0..n-1 (or `positions`). */
export function routing(
  kv: KvLayout,
  cacheLength: number,
  extra: { step?: number; batchSize?: number; positions?: number[][]; importance?: number[]; padding?: number[]; active?: boolean[] } = {},
): RoutingContext {
  const identity = Array.from({ length: cacheLength }, (_, i) => i);
  return {
    step: extra.step ?? 0,
    batchSize: extra.batchSize ?? 1,
    layout: kv,
    cacheLength,
    slotPositions: extra.positions ?? Array.from({ length: kv.numKvHeads }, () => identity),
    nextPosition: cacheLength,
    ...(extra.importance ? { importance: Float32Array.from(extra.importance) } : {}),
    ...(extra.padding ? { padding: extra.padding } : {}),
    ...(extra.active ? { active: extra.active } : {}),
  };
}

export const slotsOf = (selection: KvSelection | undefined): readonly number[] | readonly (readonly number[])[] | undefined => selection?.slots;
