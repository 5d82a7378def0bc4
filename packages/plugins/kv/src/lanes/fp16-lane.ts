import { grow } from '../quant/groups.js';
import { halfTable, toHalf } from '../quant/fp16.js';
import type { Lane } from './lane.js';

/** Tokens stored as IEEE halves (round-to-nearest-even) in a `Uint16Array`; `dropFront` as in {@link Fp32Lane}. */
export class Fp16Lane implements Lane {
  private data = new Uint16Array(0);
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
    const data = this.data;
    const base = end * d;
    for (let i = 0; i < count * d; i++) data[base + i] = toHalf(src[offset + i]!);
    this.n += count;
  }

  read(from: number, to: number, out: Float32Array, outOffset: number): void {
    const t = halfTable();
    const data = this.data;
    const end = (this.head + to) * this.dim;
    for (let i = (this.head + from) * this.dim, j = outOffset; i < end; i++, j++) out[j] = t[data[i]!]!;
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
    return this.n * this.dim * 2;
  }

  private compact(): void {
    this.data.copyWithin(0, this.head * this.dim, (this.head + this.n) * this.dim);
    this.head = 0;
  }
}
