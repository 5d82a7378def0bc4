import type { KvSelection } from '../../spec/attention-router.js';

/**
 * Copies the selected slots of a [batch, heads, slots, headDim] tensor into a new, smaller one.
 * Each kept slot is a contiguous run of `headDim` values, so this is one `set` per slot.
 */
export function gatherSlots(
  data: Float32Array,
  dims: readonly number[],
  selection: KvSelection,
): { readonly data: Float32Array; readonly dims: readonly [number, number, number, number] } {
  const [batch, heads, slots, dim] = dims as [number, number, number, number];
  const perHead = (h: number): readonly number[] => (selection.kind === 'shared' ? selection.slots : selection.slots[h]!);
  const kept = perHead(0).length;
  const out = new Float32Array(batch * heads * kept * dim);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const keep = perHead(h);
      const from = (b * heads + h) * slots * dim;
      const to = (b * heads + h) * kept * dim;
      for (let k = 0; k < kept; k++) out.set(data.subarray(from + keep[k]! * dim, from + (keep[k]! + 1) * dim), to + k * dim);
    }
  }
  return { data: out, dims: [batch, heads, kept, dim] };
}

/** Checks a selection against the cache: ascending, in range, equal counts per head. */
export function validateSelection(selection: KvSelection, slots: number, heads: number): string | undefined {
  const lists = selection.kind === 'shared' ? [selection.slots] : selection.slots;
  if (selection.kind === 'per-head' && lists.length !== heads) return `per-head selection has ${lists.length} lists for ${heads} key/value heads`;
  const count = lists[0]?.length ?? 0;
  for (const list of lists) {
    if (list.length !== count) return 'per-head selections must keep the same number of slots in every head';
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      if (!Number.isInteger(s) || s < 0 || s >= slots) return `slot ${s} is outside the cache (0..${slots - 1})`;
      if (i > 0 && s <= list[i - 1]!) return 'selected slots must be strictly ascending';
    }
  }
  return undefined;
}
