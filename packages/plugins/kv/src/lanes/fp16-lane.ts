import { halfTable, toHalf } from '../quant/fp16.js';
import { DenseLane } from './dense-lane.js';

/**
 * Tokens stored as IEEE halves (round-to-nearest-even) in a `Uint16Array`. A finite value beyond
 * fp16's range (|x| ≥ 65520, which rounds to ±Infinity) is a `RangeError`: stored, it would turn
 * attention into NaN.
 */
export class Fp16Lane extends DenseLane<Uint16Array> {
  constructor(dim: number) {
    super(dim, new Uint16Array(0), 2);
  }

  protected write(src: Float32Array, offset: number, count: number, at: number): void {
    const data = this.data;
    for (let i = 0; i < count * this.dim; i++) {
      const value = src[offset + i]!;
      const half = toHalf(value);
      if ((half & 0x7fff) === 0x7c00 && Number.isFinite(value)) {
        throw new RangeError(`the value ${value} is beyond fp16's range (|values| up to 65504): use a store that keeps them in fp32 (the default fp32 store; kivi with residualPrecision=fp32; temporal without an fp16 tier).`);
      }
      data[at + i] = half;
    }
  }

  protected readElements(from: number, to: number, out: Float32Array, outOffset: number): void {
    const t = halfTable();
    const data = this.data;
    for (let i = from, j = outOffset; i < to; i++, j++) out[j] = t[data[i]!]!;
  }
}
