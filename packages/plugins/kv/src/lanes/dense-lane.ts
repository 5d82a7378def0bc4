import { grow } from '../quant/groups.js';
import type { Lane } from './lane.js';

/**
 * Tokens kept one value per element (float32 or fp16), `dim` values per token. Dropping the oldest
 * tokens only advances `head`; the array is compacted when the dropped part outgrows the live one,
 * so a tier that passes one token on per step costs O(1) amortised. Subclasses say how values are
 * written and read.
 */
export abstract class DenseLane<A extends Float32Array | Uint16Array> implements Lane {
  protected data: A;
  private head = 0;
  private n = 0;
  /** Tokens the last push added (what `undoPush` removes). */
  private pushed = 0;

  constructor(
    protected readonly dim: number,
    empty: A,
    private readonly bytesPerValue: number,
  ) {
    this.data = empty;
  }

  get length(): number {
    return this.n;
  }

  /** Writes `count` tokens of `src` from `offset` into `data` at element `at` (may throw: nothing is counted yet). */
  protected abstract write(src: Float32Array, offset: number, count: number, at: number): void;

  /** Reads elements [from, to) of `data` into `out` at `outOffset` as float32. */
  protected abstract readElements(from: number, to: number, out: Float32Array, outOffset: number): void;

  push(src: Float32Array, offset: number, count: number): void {
    const d = this.dim;
    this.pushed = 0;
    if (this.head > 0 && this.head >= this.n) this.compact();
    const end = this.head + this.n;
    this.data = grow(this.data, (end + count) * d, end * d);
    this.write(src, offset, count, end * d);
    this.n += count;
    this.pushed = count;
  }

  undoPush(): void {
    this.n -= this.pushed;
    this.pushed = 0;
  }

  read(from: number, to: number, out: Float32Array, outOffset: number): void {
    this.readElements((this.head + from) * this.dim, (this.head + to) * this.dim, out, outOffset);
  }

  dropFront(count: number): void {
    this.pushed = 0;
    this.head += count;
    this.n -= count;
    if (this.n === 0) this.head = 0;
  }

  retain(keep: readonly number[]): void {
    const d = this.dim;
    for (let j = 0; j < keep.length; j++) {
      const k = this.head + keep[j]!;
      if (k !== j) this.data.copyWithin(j * d, k * d, (k + 1) * d);
    }
    this.pushed = 0;
    this.head = 0;
    this.n = keep.length;
  }

  /** One value per element, each token on its own: every cut is exact, so the lane has no `truncateRefusal`. */
  truncate(length: number): void {
    this.pushed = 0;
    this.n = length;
    if (this.n === 0) this.head = 0;
  }

  bytes(): number {
    return this.n * this.dim * this.bytesPerValue;
  }

  private compact(): void {
    this.data.copyWithin(0, this.head * this.dim, (this.head + this.n) * this.dim);
    this.head = 0;
  }
}
