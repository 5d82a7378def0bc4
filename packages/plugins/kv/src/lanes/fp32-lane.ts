import { DenseLane } from './dense-lane.js';

/** Tokens kept as float32 (KIVI's residual, the newest tier of `temporal`). */
export class Fp32Lane extends DenseLane<Float32Array> {
  constructor(dim: number) {
    super(dim, new Float32Array(0), 4);
  }

  protected write(src: Float32Array, offset: number, count: number, at: number): void {
    this.data.set(src.subarray(offset, offset + count * this.dim), at);
  }

  protected readElements(from: number, to: number, out: Float32Array, outOffset: number): void {
    out.set(this.data.subarray(from, to), outOffset);
  }
}
