import { quoteValue } from '../../util/describe-cause.js';
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

/**
 * Checks a router's selection: its shape (`kind` `shared` with one slot list, or `per-head` with
 * one list per key/value head), then against the cache: integer slots, ascending, in range, equal
 * counts per head. Returns what is wrong, or undefined.
 */
export function validateSelection(selection: unknown, slots: number, heads: number): string | undefined {
  const lists = selectionLists(selection, heads);
  if (typeof lists === 'string') return lists;
  const count = lists[0]?.length ?? 0;
  for (const list of lists) {
    if (list.length !== count) return 'per-head selections must keep the same number of slots in every head';
    for (let i = 0; i < list.length; i++) {
      const s: unknown = list[i];
      if (typeof s !== 'number' || !Number.isInteger(s)) return `slot ${quoteValue(s)} is not an integer slot index`;
      if (s < 0 || s >= slots) return `slot ${s} is outside the cache (0..${slots - 1})`;
      if (i > 0 && s <= (list[i - 1] as number)) return 'selected slots must be strictly ascending';
    }
  }
  return undefined;
}

/** The slot lists of a selection, one per head (one for `shared`), or what is wrong with its shape. */
function selectionLists(selection: unknown, heads: number): readonly (readonly unknown[])[] | string {
  if (typeof selection !== 'object' || selection === null || Array.isArray(selection)) return `it is ${quoteValue(selection)}, not a selection object`;
  const { kind, slots } = selection as { readonly kind?: unknown; readonly slots?: unknown };
  if (kind === 'shared') return Array.isArray(slots) ? [slots] : `its slots are ${quoteValue(slots)}, not an array of slot indices`;
  if (kind !== 'per-head') return `its kind is ${quoteValue(kind)}, not 'shared' or 'per-head'`;
  if (!Array.isArray(slots)) return `its slots are ${quoteValue(slots)}, not one array of slot indices per key/value head`;
  if (slots.length !== heads) return `per-head selection has ${slots.length} lists for ${heads} key/value heads`;
  for (const list of slots) if (!Array.isArray(list)) return `a per-head list is ${quoteValue(list)}, not an array of slot indices`;
  return slots as readonly (readonly unknown[])[];
}
