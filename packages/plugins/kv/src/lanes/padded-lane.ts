import { undoPush, type Lane } from './lane.js';

/**
 * The lane of a left-padded batch row: its first `padding` tokens (pad tokens, which the attention
 * mask hides) go to `pad`, every later token to `inner`, which therefore starts at the row's first
 * real token. A format that groups tokens across time (KIVI's key blocks and the points where its
 * residual flushes them) then groups a padded row's tokens exactly as it groups the same prompt
 * alone, and pad keys never enter a real block's statistics.
 *
 * Pads are routed only while nothing has reached `inner` (they lead the row); evicting one
 * (`retain`, `dropFront`) leaves the real tokens where they are.
 */
export class PaddedLane implements Lane {
  /** Pad tokens still to come (the row's leading tokens not pushed yet). */
  private pending: number;
  private readonly moved: number[] = [];
  /** The last push, for `undoPush`: pads it gave `pad` and lengths of `pad` and `inner` before it (`innerBefore` -1: inner untouched; `padBefore` -1: nothing to undo). */
  private padBefore = -1;
  private padsPushed = 0;
  private innerBefore = -1;

  constructor(
    private readonly rowPadding: number,
    private readonly pad: Lane,
    private readonly inner: Lane,
    private readonly dim: number,
  ) {
    if (!Number.isInteger(rowPadding) || rowPadding < 0) throw new RangeError(`padding must be an integer ≥ 0 (got ${rowPadding})`);
    this.pending = rowPadding;
  }

  get length(): number {
    return this.pad.length + this.inner.length;
  }

  /** Tokens held as padding (leading, apart from the row's real tokens). */
  get padding(): number {
    return this.pad.length;
  }

  push(src: Float32Array, offset: number, count: number): void {
    this.padBefore = -1;
    const pads = Math.min(count, this.pending);
    const padBefore = this.pad.length;
    const innerBefore = count > pads ? this.inner.length : -1;
    if (pads > 0) this.pad.push(src, offset, pads);
    if (count > pads) {
      try {
        this.inner.push(src, offset + pads * this.dim, count - pads);
      } catch (error) {
        // All or nothing: the pads go back too.
        if (pads > 0) undoPush(this.pad, padBefore);
        throw error;
      }
    }
    // pads < count only when pads === pending: every pad has come.
    this.pending -= pads;
    this.padBefore = padBefore;
    this.padsPushed = pads;
    this.innerBefore = innerBefore;
  }

  undoPush(): void {
    if (this.padBefore < 0) return;
    if (this.innerBefore >= 0) undoPush(this.inner, this.innerBefore);
    if (this.padsPushed > 0) undoPush(this.pad, this.padBefore);
    this.pending += this.padsPushed;
    this.padBefore = -1;
  }

  read(from: number, to: number, out: Float32Array, outOffset: number): void {
    const p = this.pad.length;
    if (from < p) this.pad.read(from, Math.min(to, p), out, outOffset);
    if (to > p) {
      const a = Math.max(from, p);
      this.inner.read(a - p, to - p, out, outOffset + (a - from) * this.dim);
    }
  }

  dropFront(count: number): void {
    this.padBefore = -1;
    const pads = Math.min(count, this.pad.length);
    if (pads > 0) this.pad.dropFront(pads);
    if (count > pads) this.inner.dropFront(count - pads);
  }

  retain(keep: readonly number[]): void {
    this.padBefore = -1;
    const p = this.pad.length;
    let split = 0;
    while (split < keep.length && keep[split]! < p) split++;
    if (split !== p) this.pad.retain(keep.slice(0, split));
    if (keep.length - split !== this.inner.length) this.inner.retain(keep.slice(split).map((slot) => slot - p));
  }

  truncateRefusal(length: number): string | undefined {
    if (!this.pad.truncate || !this.inner.truncate) return 'its lanes cannot be cut';
    const p = this.pad.length;
    return length < p ? (this.pad.truncateRefusal?.(length) ?? this.inner.truncateRefusal?.(0)) : this.inner.truncateRefusal?.(length - p);
  }

  /**
   * Cuts `pad` and `inner` as a lane pushed only the first `length` tokens would hold them; pads
   * cut off are pending again. Only for a lane that has evicted nothing (the store checks).
   */
  truncate(length: number): void {
    this.padBefore = -1;
    const p = this.pad.length;
    if (length < p) {
      this.pad.truncate!(length);
      this.inner.truncate!(0);
    } else {
      this.inner.truncate!(length - p);
    }
    this.pending = Math.max(0, this.rowPadding - this.pad.length);
  }

  bytes(): number {
    return this.pad.bytes() + this.inner.bytes();
  }

  /** The inner lane's requantised ranges, moved past the padding. */
  takeChanged(out: number[]): void {
    this.padBefore = -1;
    if (!this.inner.takeChanged) return;
    const moved = this.moved;
    this.inner.takeChanged(moved);
    const p = this.pad.length;
    for (const v of moved) out.push(v + p);
    moved.length = 0;
  }
}
