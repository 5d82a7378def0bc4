import ndarray from 'ndarray';
import { fromHalf, halfCeil, halfFloor, halfTable } from './fp16.js';

/** Code widths of the integer formats. */
export type QuantBits = 2 | 4 | 8;
/** Storage precision of scales and zero points. */
export type ParamPrecision = 'fp16' | 'fp32';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The smallest float32 ≥ `value` (value ≥ 0). */
function float32Ceil(value: number): number {
  const r = Math.fround(value);
  if (r >= value) return r;
  f32[0] = r;
  u32[0] = u32[0]! + 1;
  return f32[0];
}

/** The largest float32 ≤ `value`. */
function float32Floor(value: number): number {
  const r = Math.fround(value);
  if (r <= value) return r;
  f32[0] = r;
  if (r > 0) u32[0] = u32[0]! - 1;
  else if (r === 0) u32[0] = 0x80000001;
  else u32[0] = u32[0]! + 1;
  return f32[0];
}

/**
 * Per-group scale and zero point of asymmetric min/max quantisation, stored in fp16 (`Uint16Array`
 * bit patterns) or fp32, grow-only. The zero point is the group's minimum rounded *down* and the
 * scale (max − zero) / (2^bits − 1) rounded *up* in the storage precision, so every value of the
 * group lies in [zero, zero + (2^bits − 1)·scale] and the rounding error stays ≤ scale / 2.
 */
export class GroupParams {
  zeros: Uint16Array | Float32Array;
  scales: Uint16Array | Float32Array;
  /** Bytes one group's scale and zero point take. */
  readonly bytesPerGroup: number;

  constructor(
    readonly precision: ParamPrecision,
    capacity = 0,
  ) {
    this.zeros = precision === 'fp16' ? new Uint16Array(capacity) : new Float32Array(capacity);
    this.scales = precision === 'fp16' ? new Uint16Array(capacity) : new Float32Array(capacity);
    this.bytesPerGroup = precision === 'fp16' ? 4 : 8;
  }

  /** Makes room for `count` groups, keeping the first `keep`. */
  ensure(count: number, keep: number): void {
    this.zeros = grow(this.zeros, count, keep);
    this.scales = grow(this.scales, count, keep);
  }

  /**
   * Fits group `i` to values in [lo, hi] for codes 0..levels. A group with no number in it (only
   * NaNs: lo > hi) gets a NaN zero point, so it reads back as NaN rather than as +Infinity. In
   * fp16, a group of finite values whose zero point or scale would overflow (values beyond
   * ±65504, or a range wider than 65504 per level) is a `RangeError` saying to use fp32 scales:
   * it would read back as NaN.
   */
  fit(i: number, lo: number, hi: number, levels: number): void {
    if (!(lo <= hi)) {
      this.zeros[i] = this.precision === 'fp16' ? 0x7e00 : NaN;
      this.scales[i] = 0;
    } else if (this.precision === 'fp16') {
      const zh = halfFloor(lo);
      const zero = fromHalf(zh);
      const scale = hi > zero ? halfCeil((hi - zero) / levels) : 0;
      // 0x7c00: the exponent bits of ±Infinity; finite inputs that reach it overflowed.
      if (((zh & 0x7c00) === 0x7c00 || (scale & 0x7c00) === 0x7c00) && Number.isFinite(lo) && Number.isFinite(hi)) throw fp16Overflow(lo, hi);
      this.zeros[i] = zh;
      this.scales[i] = scale;
    } else {
      const zero = float32Floor(lo);
      this.zeros[i] = zero;
      this.scales[i] = hi > zero ? float32Ceil((hi - zero) / levels) : 0;
    }
  }

  zero(i: number): number {
    return this.precision === 'fp16' ? halfTable()[this.zeros[i]!]! : this.zeros[i]!;
  }

  scale(i: number): number {
    return this.precision === 'fp16' ? halfTable()[this.scales[i]!]! : this.scales[i]!;
  }

  /** Moves groups [start, end) to `target` (as `TypedArray.copyWithin`). */
  copyWithin(target: number, start: number, end: number): void {
    this.zeros.copyWithin(target, start, end);
    this.scales.copyWithin(target, start, end);
  }
}

function fp16Overflow(lo: number, hi: number): RangeError {
  return new RangeError(
    `values in [${lo}, ${hi}] are beyond what fp16 scales and zero points hold (|values| up to 65504): use scales=fp32 (and residualPrecision=fp32 for kivi; quantizeGroups takes precision: 'fp32').`,
  );
}

/**
 * `array` when it has room for `needed` elements, else a larger one (×1.5, at least `needed`)
 * holding its first `keep` elements.
 */
export function grow<T extends Float32Array | Uint16Array | Uint8Array | Int32Array>(array: T, needed: number, keep: number): T {
  if (array.length >= needed) return array;
  const next = new (array.constructor as new (n: number) => T)(Math.max(needed, Math.ceil(array.length * 1.5), 16));
  next.set(array.subarray(0, keep));
  return next;
}

/** Minimum and maximum of `n` values at `offset + i·stride` (into `range[0]`, `range[1]`). */
export function rangeOf(src: Float32Array, offset: number, stride: number, n: number, range: Float64Array): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0, j = offset; i < n; i++, j += stride) {
    const v = src[j]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  range[0] = lo;
  range[1] = hi;
}

/**
 * Quantises `n` values read at `srcOffset + i·srcStride` with one zero point and scale:
 * q = round((x − zero) / scale), a tie taking the upper code, clamped to [0, 2^bits − 1] (a NaN gets
 * 0). Code `i` is written to bit `bitOffset + i·bitStride` of `codes` (other bits untouched).
 */
export function quantizeRun(
  src: Float32Array,
  srcOffset: number,
  srcStride: number,
  n: number,
  bits: QuantBits,
  zero: number,
  scale: number,
  codes: Uint8Array,
  bitOffset: number,
  bitStride: number,
): void {
  const levels = (1 << bits) - 1;
  // A true division, not a multiplication by 1 / scale: the reciprocal is rounded, and a value
  // halfway between two levels (common when values and scale are float16) then got the lower code.
  const s = scale > 0 ? scale : Infinity;
  for (let i = 0, j = srcOffset, bit = bitOffset; i < n; i++, j += srcStride, bit += bitStride) {
    let q = Math.round((src[j]! - zero) / s);
    if (!(q >= 0)) q = 0;
    else if (q > levels) q = levels;
    const byte = bit >>> 3;
    const shift = bit & 7;
    codes[byte] = (codes[byte]! & ~(levels << shift)) | (q << shift);
  }
}

/** Inverse of {@link quantizeRun}: writes `q·scale + zero` to `outOffset + i·outStride`. */
export function dequantizeRun(
  codes: Uint8Array,
  bitOffset: number,
  bitStride: number,
  n: number,
  bits: QuantBits,
  zero: number,
  scale: number,
  out: Float32Array,
  outOffset: number,
  outStride: number,
): void {
  const levels = (1 << bits) - 1;
  for (let i = 0, j = outOffset, bit = bitOffset; i < n; i++, j += outStride, bit += bitStride) {
    out[j] = ((codes[bit >>> 3]! >>> (bit & 7)) & levels) * scale + zero;
  }
}

/** Result of {@link quantizeGroups}. */
export interface QuantizedGroups {
  readonly bits: QuantBits;
  readonly groups: number;
  readonly groupSize: number;
  readonly precision: ParamPrecision;
  /** Codes of the [groups, groupSize] values in row-major order, packed (first value in the lowest bits of a byte). */
  readonly codes: Uint8Array;
  /** Scale per group (exactly representable in `precision`). */
  readonly scales: Float32Array;
  /** Zero point per group: the group's minimum rounded down in `precision`. */
  readonly zeros: Float32Array;
}

/** How `quantizeGroups` quantises: code width, group size and the precision of its parameters. */
export interface QuantizeOptions {
  readonly bits: QuantBits;
  /** Group size when `values` is a flat array (its length must be a multiple). */
  readonly group?: number;
  /** Storage precision of scales and zero points (default fp16). */
  readonly precision?: ParamPrecision;
}

/** A 2-D view whose rows are the groups (any strides: per-token rows or transposed per-channel columns). */
export type GroupView = ndarray.NdArray<Float32Array>;

function asGroupView(values: GroupView | Float32Array, group: number | undefined): GroupView {
  if (values instanceof Float32Array) {
    const size = group ?? values.length;
    if (!Number.isInteger(size) || size < 1 || values.length % size !== 0) {
      throw new RangeError(`group must divide the ${values.length} values (got ${String(group)})`);
    }
    return ndarray(values, [values.length / size, size]);
  }
  if (values.shape.length !== 2) throw new RangeError(`expected a 2-D view [groups, groupSize], got shape [${values.shape.join(', ')}]`);
  return values;
}

/**
 * Asymmetric min/max quantisation of every row of `values` (a 2-D ndarray view, rows = groups, or a
 * flat array cut into `group`-sized rows): s = (max − min)/(2^b − 1), q = round((x − min)/s).
 * Every value comes back within `scale / 2` of itself (plus float32 rounding).
 */
export function quantizeGroups(values: GroupView | Float32Array, options: QuantizeOptions): QuantizedGroups {
  const { bits } = options;
  if (bits !== 2 && bits !== 4 && bits !== 8) throw new RangeError(`bits must be 2, 4 or 8 (got ${String(bits)})`);
  const view = asGroupView(values, options.group);
  const [groups, size] = view.shape as [number, number];
  const precision = options.precision ?? 'fp16';
  if (precision !== 'fp16' && precision !== 'fp32') throw new RangeError(`precision must be fp16 or fp32 (got ${String(precision)})`);
  const params = new GroupParams(precision, groups);
  const codes = new Uint8Array(Math.ceil((groups * size * bits) / 8));
  const range = new Float64Array(2);
  const levels = (1 << bits) - 1;
  for (let g = 0; g < groups; g++) {
    const offset = view.offset + g * view.stride[0]!;
    rangeOf(view.data, offset, view.stride[1]!, size, range);
    params.fit(g, range[0]!, range[1]!, levels);
    quantizeRun(view.data, offset, view.stride[1]!, size, bits, params.zero(g), params.scale(g), codes, g * size * bits, bits);
  }
  const scales = new Float32Array(groups);
  const zeros = new Float32Array(groups);
  for (let g = 0; g < groups; g++) {
    scales[g] = params.scale(g);
    zeros[g] = params.zero(g);
  }
  return { bits, groups, groupSize: size, precision, codes, scales, zeros };
}

/**
 * Dequantises {@link quantizeGroups}' result into `out`: a flat row-major array of at least
 * `groups · groupSize` values, or a view of the same shape.
 */
export function dequantize(q: QuantizedGroups): Float32Array;
export function dequantize(q: QuantizedGroups, out: Float32Array): Float32Array;
export function dequantize(q: QuantizedGroups, out: GroupView): GroupView;
export function dequantize(q: QuantizedGroups, out?: Float32Array | GroupView): Float32Array | GroupView {
  const target = out ?? new Float32Array(q.groups * q.groupSize);
  if (target instanceof Float32Array && target.length < q.groups * q.groupSize) {
    throw new RangeError(`dequantize: ${q.groups * q.groupSize} values need an output of that length, got ${target.length}`);
  }
  const view = target instanceof Float32Array ? ndarray(target, [q.groups, q.groupSize]) : target;
  if (view.shape[0] !== q.groups || view.shape[1] !== q.groupSize) throw new RangeError('dequantize: output shape does not match');
  for (let g = 0; g < q.groups; g++) {
    dequantizeRun(q.codes, g * q.groupSize * q.bits, q.bits, q.groupSize, q.bits, q.zeros[g]!, q.scales[g]!, view.data, view.offset + g * view.stride[0]!, view.stride[1]!);
  }
  return target;
}
