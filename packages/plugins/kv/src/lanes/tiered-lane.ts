import { undoPush, type Lane } from './lane.js';

/** One precision tier of a {@link TieredLane}. */
export interface Tier {
  readonly lane: Lane;
  /** Most tokens the tier holds before its oldest move to the next older tier (Infinity for the oldest). */
  readonly capacity: number;
  /** Tokens leave this tier in multiples of `chunk` (KIVI: whole key groups). Default 1. */
  readonly chunk?: number;
}

/**
 * Tokens ordered oldest to newest across tiers (`tiers[0]` the oldest, lowest precision). New tokens
 * enter the newest tier; when a tier overflows, its oldest tokens are dequantised and pushed into
 * the next older tier. KIVI is [quantised, fp32 residual]; `temporal` is [int4, int8, fp32].
 *
 * A push is all or nothing: a tier that refuses the tokens moved into it (a value its format cannot
 * hold) throws after the tiers before it are reverted. Tokens moved on stay at the front of the tier
 * they left (`length` and `read` skip them) until the next call other than those two drops them,
 * so `undoPush` can revert a whole push, moves included.
 */
export class TieredLane implements Lane {
  private scratch = new Float32Array(0);
  private changed: number[] = [];
  /** Per tier: tokens at its front that the last push copied to the next older tier, not yet dropped. */
  private readonly moved: number[];
  /** Per tier: its length before the last push, or -1 where that push left it alone; `undoPush` reverts these. */
  private readonly before: number[];
  /** `changed.length` before the last push; -1 once nothing is left to undo. */
  private changedBefore = -1;

  constructor(
    private readonly tiers: readonly Tier[],
    private readonly dim: number,
  ) {
    if (tiers.length === 0) throw new RangeError('a tiered lane needs at least one tier');
    this.moved = tiers.map(() => 0);
    this.before = tiers.map(() => -1);
  }

  get length(): number {
    let n = 0;
    for (let i = 0; i < this.tiers.length; i++) n += this.tiers[i]!.lane.length - this.moved[i]!;
    return n;
  }

  /** Tokens per tier, oldest tier first. */
  tierLengths(): number[] {
    return this.tiers.map((t, i) => t.lane.length - this.moved[i]!);
  }

  push(src: Float32Array, offset: number, count: number): void {
    this.settle();
    const { tiers, moved, before } = this;
    const newest = tiers.length - 1;
    const mark = this.changed.length;
    const length = tiers[newest]!.lane.length;
    tiers[newest]!.lane.push(src, offset, count);
    before[newest] = length;
    try {
      for (let i = newest; i > 0; i--) {
        const tier = tiers[i]!;
        const over = tier.lane.length - tier.capacity;
        if (over <= 0) continue;
        const chunk = tier.chunk ?? 1;
        const move = Math.min(tier.lane.length, Math.ceil(over / chunk) * chunk);
        if (this.scratch.length < move * this.dim) this.scratch = new Float32Array(move * this.dim);
        tier.lane.read(0, move, this.scratch, 0);
        let start = 0;
        for (let j = 0; j < i; j++) start += tiers[j]!.lane.length;
        const older = tiers[i - 1]!.lane;
        const length = older.length;
        older.push(this.scratch, 0, move);
        before[i - 1] = length;
        // Dropped from this tier later (settle): until then the push can still be undone.
        moved[i] = move;
        this.changed.push(start, start + move);
      }
    } catch (error) {
      // The tier that threw is as it was; revert those that took tokens before it.
      this.revert(mark);
      throw error;
    }
    this.changedBefore = mark;
  }

  /** Reverts the last push, moves included (see {@link Lane.undoPush}). */
  undoPush(): void {
    if (this.changedBefore >= 0) this.revert(this.changedBefore);
  }

  read(from: number, to: number, out: Float32Array, outOffset: number): void {
    let start = 0;
    for (let i = 0; i < this.tiers.length; i++) {
      const { lane } = this.tiers[i]!;
      const skip = this.moved[i]!;
      const end = start + lane.length - skip;
      const a = Math.max(from, start);
      const b = Math.min(to, end);
      if (a < b) lane.read(a - start + skip, b - start + skip, out, outOffset + (a - from) * this.dim);
      start = end;
    }
  }

  dropFront(count: number): void {
    this.settle();
    let rest = count;
    for (const { lane } of this.tiers) {
      if (rest <= 0) break;
      const d = Math.min(rest, lane.length);
      lane.dropFront(d);
      rest -= d;
    }
  }

  retain(keep: readonly number[]): void {
    this.settle();
    let start = 0;
    let k = 0;
    for (const { lane } of this.tiers) {
      const end = start + lane.length;
      const local: number[] = [];
      while (k < keep.length && keep[k]! < end) local.push(keep[k++]! - start);
      if (local.length !== lane.length) lane.retain(local);
      start = end;
    }
  }

  bytes(): number {
    this.settle();
    let n = 0;
    for (const t of this.tiers) n += t.lane.bytes();
    return n;
  }

  /**
   * Exact only while every token is still in the newest tier (or for a cut that keeps every token):
   * a shorter lane would hold some of the tokens already moved on in a newer tier, and the values
   * they had there are gone. For `kivi` and `temporal` that is the first residual/newest-tier span.
   */
  truncateRefusal(length: number): string | undefined {
    const newest = this.tiers.length - 1;
    if (length === this.length) return undefined;
    let older = 0;
    for (let i = 0; i < newest; i++) older += this.tiers[i]!.lane.length - this.moved[i]!;
    if (older > 0) {
      return `${older} of its ${this.length} positions have already moved from the newest tier (${this.tiers[newest]!.capacity} positions) to a lower precision; a cache of ${length} would hold some of them in the newest tier, and those values are gone`;
    }
    const lane = this.tiers[newest]!.lane;
    return lane.truncate ? lane.truncateRefusal?.(length) : 'its lanes cannot be cut';
  }

  /** Cuts the newest tokens off, newest tier first; only where {@link truncateRefusal} allows it. */
  truncate(length: number): void {
    this.settle();
    let rest = this.length - length;
    for (let i = this.tiers.length - 1; i >= 0 && rest > 0; i--) {
      const lane = this.tiers[i]!.lane;
      const cut = Math.min(rest, lane.length);
      lane.truncate!(lane.length - cut);
      rest -= cut;
    }
  }

  takeChanged(out: number[]): void {
    this.settle();
    for (const v of this.changed) out.push(v);
    this.changed.length = 0;
  }

  /** Drops the tokens the last push moved on from the tiers they left; the push can no longer be undone. */
  private settle(): void {
    const { moved, before } = this;
    for (let i = 0; i < moved.length; i++) {
      if (moved[i]! > 0) this.tiers[i]!.lane.dropFront(moved[i]!);
      moved[i] = 0;
      before[i] = -1;
    }
    this.changedBefore = -1;
  }

  /** Reverts every tier the last push changed, and forgets the ranges it marked from `changed[mark]` on. */
  private revert(mark: number): void {
    const { moved, before } = this;
    for (let i = 0; i < this.tiers.length; i++) {
      if (before[i]! >= 0) undoPush(this.tiers[i]!.lane, before[i]!);
      moved[i] = 0;
      before[i] = -1;
    }
    this.changed.length = mark;
    this.changedBefore = -1;
  }
}
