import type { Lane } from './lane.js';

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
 */
export class TieredLane implements Lane {
  private scratch = new Float32Array(0);
  private changed: number[] = [];

  constructor(
    private readonly tiers: readonly Tier[],
    private readonly dim: number,
  ) {
    if (tiers.length === 0) throw new RangeError('a tiered lane needs at least one tier');
  }

  get length(): number {
    let n = 0;
    for (const t of this.tiers) n += t.lane.length;
    return n;
  }

  /** Tokens per tier, oldest tier first. */
  tierLengths(): number[] {
    return this.tiers.map((t) => t.lane.length);
  }

  push(src: Float32Array, offset: number, count: number): void {
    const tiers = this.tiers;
    tiers[tiers.length - 1]!.lane.push(src, offset, count);
    for (let i = tiers.length - 1; i > 0; i--) {
      const tier = tiers[i]!;
      const over = tier.lane.length - tier.capacity;
      if (over <= 0) continue;
      const chunk = tier.chunk ?? 1;
      const move = Math.min(tier.lane.length, Math.ceil(over / chunk) * chunk);
      if (this.scratch.length < move * this.dim) this.scratch = new Float32Array(move * this.dim);
      tier.lane.read(0, move, this.scratch, 0);
      let start = 0;
      for (let j = 0; j < i; j++) start += tiers[j]!.lane.length;
      tiers[i - 1]!.lane.push(this.scratch, 0, move);
      tier.lane.dropFront(move);
      this.changed.push(start, start + move);
    }
  }

  read(from: number, to: number, out: Float32Array, outOffset: number): void {
    let start = 0;
    for (const { lane } of this.tiers) {
      const end = start + lane.length;
      const a = Math.max(from, start);
      const b = Math.min(to, end);
      if (a < b) lane.read(a - start, b - start, out, outOffset + (a - from) * this.dim);
      start = end;
    }
  }

  dropFront(count: number): void {
    let rest = count;
    for (const { lane } of this.tiers) {
      if (rest <= 0) break;
      const d = Math.min(rest, lane.length);
      lane.dropFront(d);
      rest -= d;
    }
  }

  retain(keep: readonly number[]): void {
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
    let n = 0;
    for (const t of this.tiers) n += t.lane.bytes();
    return n;
  }

  takeChanged(out: number[]): void {
    for (const v of this.changed) out.push(v);
    this.changed.length = 0;
  }
}
