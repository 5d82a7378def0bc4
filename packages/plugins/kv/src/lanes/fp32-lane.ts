import { grow } from '../quant/groups.js';
import type { Lane } from './lane.js';

/**
 * Tokens kept as float32 (KIVI's residual, the newest tier of `temporal`). Dropping the oldest
 * tokens only advances `head`; the array is compacted when the dropped part outgrows the live one,
 * so a tier that passes one token on per step costs O(1) amortised.
 */
export class Fp32Lane implements Lane {
  private data = new Float32Array(0);
  private head = 0;
  private n = 0;

  constructor(private readonly dim: number) {}

  get length(): number {
    return this.n;
  }

  push(src: Float32Array, offset: number, count: number): void {
    const d = this.dim;
    if (this.head > 0 && this.head >= this.n) this.compact();
    const end = this.head + this.n;
    this.data = grow(this.data, (end + count) * d, end * d);
    this.data.set(src.subarray(offset, offset + count * d), end * d);
    this.n += count;
  }

  read(from: number, to: number, out: Float32Array, outOffset: number): void {
    out.set(this.data.subarray((this.head + from) * this.dim, (this.head + to) * this.dim), outOffset);
  }

  dropFront(count: number): void {
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
    this.head = 0;
    this.n = keep.length;
  }

  bytes(): number {
    return this.n * this.dim * 4;
  }

  private compact(): void {
    this.data.copyWithin(0, this.head * this.dim, (this.head + this.n) * this.dim);
    this.head = 0;
  }
}
