import ndarray from 'ndarray';
import { GroupParams, grow, quantizeRun, rangeOf, type ParamPrecision, type QuantBits } from '../quant/groups.js';
import type { Lane } from './lane.js';

/**
 * Per-channel integer storage (KIVI's keys): tokens are quantised in blocks of `block` consecutive
 * tokens, and within a block every channel has its own scale and zero point (a group runs along
 * the token axis). Codes stay token-major (`ceil(dim·bits/8)` bytes per token), so evicting a
 * token removes its bytes; a block that loses tokens keeps its parameters (the remaining codes
 * are unchanged), and a block with no token left is freed.
 */
export class ChannelBlockLane implements Lane {
  private codes = new Uint8Array(0);
  private readonly params: GroupParams;
  private blockLen = new Int32Array(0);
  private blocks = 0;
  private n = 0;
  /** Tokens and blocks held before the last push, which `undoPush` restores (`undoN` -1: nothing to undo). */
  private undoN = -1;
  private undoBlocks = 0;
  readonly tokenBytes: number;
  private readonly range = new Float64Array(2);
  private readonly zeroRow: Float32Array;
  private readonly scaleRow: Float32Array;

  constructor(
    private readonly dim: number,
    private readonly bits: QuantBits,
    private readonly block: number,
    precision: ParamPrecision,
  ) {
    this.tokenBytes = Math.ceil((dim * bits) / 8);
    this.params = new GroupParams(precision);
    this.zeroRow = new Float32Array(dim);
    this.scaleRow = new Float32Array(dim);
  }

  get length(): number {
    return this.n;
  }

  /** Blocks held (each with `dim` scales and zero points). */
  get blockCount(): number {
    return this.blocks;
  }

  /**
   * Quantises `count` tokens as ⌈count / block⌉ blocks (callers push whole blocks; a shorter last
   * block is allowed). A block whose parameters fp16 cannot hold throws before any block is counted.
   */
  push(src: Float32Array, offset: number, count: number): void {
    const { dim, bits, tokenBytes, params, range } = this;
    this.undoN = -1;
    const newBlocks = Math.ceil(count / this.block);
    this.codes = grow(this.codes, (this.n + count) * tokenBytes, this.n * tokenBytes);
    this.blockLen = grow(this.blockLen, this.blocks + newBlocks, this.blocks);
    params.ensure((this.blocks + newBlocks) * dim, this.blocks * dim);
    const levels = (1 << bits) - 1;
    for (let first = 0, b = this.blocks; first < count; first += this.block, b++) {
      const len = Math.min(this.block, count - first);
      // [tokens, channels] transposed to [channels, tokens]: each row is one channel's group.
      const channels = ndarray(src, [len, dim], [dim, 1], offset + first * dim).transpose(1, 0);
      const [channelStride, tokenStride] = channels.stride as [number, number];
      this.blockLen[b] = len;
      const bitBase = (this.n + first) * tokenBytes * 8;
      for (let c = 0; c < dim; c++) {
        const at = channels.offset + c * channelStride;
        const p = b * dim + c;
        rangeOf(channels.data, at, tokenStride, len, range);
        params.fit(p, range[0]!, range[1]!, levels);
        quantizeRun(channels.data, at, tokenStride, len, bits, params.zero(p), params.scale(p), this.codes, bitBase + c * bits, tokenBytes * 8);
      }
    }
    this.undoN = this.n;
    this.undoBlocks = this.blocks;
    this.n += count;
    this.blocks += newBlocks;
  }

  undoPush(): void {
    if (this.undoN < 0) return;
    this.n = this.undoN;
    this.blocks = this.undoBlocks;
    this.undoN = -1;
  }

  read(from: number, to: number, out: Float32Array, outOffset: number): void {
    const { dim, bits, tokenBytes, codes, params, zeroRow, scaleRow } = this;
    const levels = (1 << bits) - 1;
    let start = 0;
    let o = outOffset;
    for (let b = 0; b < this.blocks && start < to; b++) {
      const end = start + this.blockLen[b]!;
      if (end > from) {
        for (let c = 0; c < dim; c++) {
          zeroRow[c] = params.zero(b * dim + c);
          scaleRow[c] = params.scale(b * dim + c);
        }
        for (let t = Math.max(start, from); t < Math.min(end, to); t++, o += dim) {
          let bit = t * tokenBytes * 8;
          for (let c = 0; c < dim; c++, bit += bits) {
            out[o + c] = ((codes[bit >>> 3]! >>> (bit & 7)) & levels) * scaleRow[c]! + zeroRow[c]!;
          }
        }
      }
      start = end;
    }
  }

  dropFront(count: number): void {
    this.undoN = -1;
    if (count <= 0) return;
    let drop = 0;
    let rest = count;
    while (drop < this.blocks && this.blockLen[drop]! <= rest) rest -= this.blockLen[drop++]!;
    if (drop < this.blocks) this.blockLen[drop]! -= rest;
    this.params.copyWithin(0, drop * this.dim, this.blocks * this.dim);
    this.blockLen.copyWithin(0, drop, this.blocks);
    this.blocks -= drop;
    this.codes.copyWithin(0, count * this.tokenBytes, this.n * this.tokenBytes);
    this.n -= count;
  }

  retain(keep: readonly number[]): void {
    this.undoN = -1;
    const { dim, tokenBytes: tb } = this;
    let k = 0; // index into keep
    let kept = 0; // tokens written so far
    let blocks = 0;
    let start = 0;
    for (let b = 0; b < this.blocks; b++) {
      const end = start + this.blockLen[b]!;
      let len = 0;
      while (k < keep.length && keep[k]! < end) {
        const t = keep[k++]!;
        if (t !== kept) this.codes.copyWithin(kept * tb, t * tb, (t + 1) * tb);
        kept++;
        len++;
      }
      if (len > 0) {
        if (blocks !== b) this.params.copyWithin(blocks * dim, b * dim, (b + 1) * dim);
        this.blockLen[blocks++] = len;
      }
      start = end;
    }
    this.blocks = blocks;
    this.n = kept;
  }

  /**
   * A cut is exact only on a block boundary: a block cut in the middle keeps scales and zero points
   * fit to tokens after the cut, and the float32 values to fit them again are gone.
   */
  truncateRefusal(length: number): string | undefined {
    let start = 0;
    for (let b = 0; b < this.blocks && start < length; b++) {
      const end = start + this.blockLen[b]!;
      if (length < end) {
        return `position ${length} falls inside a quantised key block (positions ${start}–${end - 1}), whose per-channel scales were fit to the positions after it; their float32 values are gone`;
      }
      start = end;
    }
    return undefined;
  }

  /** Keeps the blocks before `length`, which must be a block boundary ({@link truncateRefusal}). */
  truncate(length: number): void {
    this.undoN = -1;
    let blocks = 0;
    for (let start = 0; blocks < this.blocks && start < length; blocks++) start += this.blockLen[blocks]!;
    this.blocks = blocks;
    this.n = length;
  }

  bytes(): number {
    return this.n * this.tokenBytes + this.blocks * this.dim * this.params.bytesPerGroup;
  }
}
