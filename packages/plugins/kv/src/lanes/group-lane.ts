import ndarray from 'ndarray';
import { dequantizeRun, GroupParams, grow, quantizeRun, rangeOf, type ParamPrecision, type QuantBits } from '../quant/groups.js';
import type { Lane } from './lane.js';

/**
 * Per-token integer storage: each token's `dim` values are cut into groups of `group` consecutive
 * channels (the last one shorter when `group` does not divide `dim`), each with its own scale and
 * zero point. A token's codes are packed into `ceil(dim·bits/8)` bytes.
 */
export class GroupLane implements Lane {
  private codes = new Uint8Array(0);
  private readonly params: GroupParams;
  /** Index of the first live token in `codes` / `params` (dropFront advances it; see DenseLane). */
  private head = 0;
  private n = 0;
  /** Tokens the last push added (what `undoPush` removes). */
  private pushed = 0;
  /** Bytes of one token's packed codes. */
  readonly tokenBytes: number;
  /** Groups per token. */
  readonly groupsPerToken: number;
  private readonly range = new Float64Array(2);

  constructor(
    private readonly dim: number,
    private readonly bits: QuantBits,
    private readonly group: number,
    precision: ParamPrecision,
  ) {
    this.tokenBytes = Math.ceil((dim * bits) / 8);
    this.groupsPerToken = Math.ceil(dim / group);
    this.params = new GroupParams(precision);
  }

  get length(): number {
    return this.n;
  }

  /** Quantises `count` tokens; a group whose parameters fp16 cannot hold throws before any token is counted. */
  push(src: Float32Array, offset: number, count: number): void {
    const { dim, bits, group, tokenBytes, groupsPerToken: gpt, params, range } = this;
    this.pushed = 0;
    if (this.head > 0 && this.head >= this.n) this.compact();
    const end = this.head + this.n;
    this.codes = grow(this.codes, (end + count) * tokenBytes, end * tokenBytes);
    params.ensure((end + count) * gpt, end * gpt);
    // Rows are tokens, columns channels; groups run along the channel axis (stride 1).
    const view = ndarray(src, [count, dim], [dim, 1], offset);
    const levels = (1 << bits) - 1;
    const [rowStride, colStride] = view.stride as [number, number];
    for (let t = 0; t < count; t++) {
      const token = end + t;
      for (let g = 0; g < gpt; g++) {
        const size = Math.min(group, dim - g * group);
        const at = view.offset + t * rowStride + g * group * colStride;
        const p = token * gpt + g;
        rangeOf(view.data, at, colStride, size, range);
        params.fit(p, range[0]!, range[1]!, levels);
        quantizeRun(view.data, at, colStride, size, bits, params.zero(p), params.scale(p), this.codes, (token * tokenBytes * 8) + g * group * bits, bits);
      }
    }
    this.n += count;
    this.pushed = count;
  }

  undoPush(): void {
    this.n -= this.pushed;
    this.pushed = 0;
  }

  read(from: number, to: number, out: Float32Array, outOffset: number): void {
    const { dim, bits, group, tokenBytes, groupsPerToken: gpt, params } = this;
    for (let token = this.head + from, last = this.head + to, o = outOffset; token < last; token++, o += dim) {
      for (let g = 0; g < gpt; g++) {
        const size = Math.min(group, dim - g * group);
        const p = token * gpt + g;
        dequantizeRun(this.codes, token * tokenBytes * 8 + g * group * bits, bits, size, bits, params.zero(p), params.scale(p), out, o + g * group, 1);
      }
    }
  }

  dropFront(count: number): void {
    this.pushed = 0;
    this.head += count;
    this.n -= count;
    if (this.n === 0) this.head = 0;
  }

  retain(keep: readonly number[]): void {
    const tb = this.tokenBytes;
    const gpt = this.groupsPerToken;
    for (let j = 0; j < keep.length; j++) {
      const k = this.head + keep[j]!;
      if (k === j) continue;
      this.codes.copyWithin(j * tb, k * tb, (k + 1) * tb);
      this.params.copyWithin(j * gpt, k * gpt, (k + 1) * gpt);
    }
    this.pushed = 0;
    this.head = 0;
    this.n = keep.length;
  }

  /** Groups run along channels, each token quantised on its own: every cut is exact, so the lane has no `truncateRefusal`. */
  truncate(length: number): void {
    this.pushed = 0;
    this.n = length;
    if (this.n === 0) this.head = 0;
  }

  bytes(): number {
    return this.n * (this.tokenBytes + this.groupsPerToken * this.params.bytesPerGroup);
  }

  private compact(): void {
    const { head, n, tokenBytes: tb, groupsPerToken: gpt } = this;
    this.codes.copyWithin(0, head * tb, (head + n) * tb);
    this.params.copyWithin(0, head * gpt, (head + n) * gpt);
    this.head = 0;
  }
}
