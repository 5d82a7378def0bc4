import { halfTable, toHalf } from '../quant/fp16.js';
import { DenseLane } from './dense-lane.js';

/** Tokens stored as IEEE halves (round-to-nearest-even) in a `Uint16Array`. */
export class Fp16Lane extends DenseLane<Uint16Array> {
  constructor(dim: number) {
    super(dim, new Uint16Array(0), 2);
  }

  protected write(src: Float32Array, offset: number, count: number, at: number): void {
    const data = this.data;
    for (let i = 0; i < count * this.dim; i++) data[at + i] = toHalf(src[offset + i]!);
  }

  protected readElements(from: number, to: number, out: Float32Array, outOffset: number): void {
    const t = halfTable();
    const data = this.data;
    for (let i = from, j = outOffset; i < to; i++, j++) out[j] = t[data[i]!]!;
  }
}
