import type { BackendTensor } from '../spec/backend.js';

/** float32 value of every float16 bit pattern, built on first use (256 KiB). */
let table: Float32Array | undefined;

/**
 * The float32 value of every float16 bit pattern: `float16Table()[h]` is the value of `h` (NaN
 * patterns give NaN). One table per process, built on first use (256 KiB); read it, never write it.
 */
export function float16Table(): Float32Array {
  if (table) return table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) t[h] = sign * fraction * 2 ** -24; // zero and subnormals
    else if (exponent === 0x1f) t[h] = fraction === 0 ? sign * Infinity : NaN;
    else t[h] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  return (table = t);
}

/**
 * Elements `from` to `to` of a float16 tensor's data as a new Float32Array. Backends hand float16
 * data over as the raw bits (`Uint16Array`), or as numbers where the platform has `Float16Array`.
 */
export function float16ToFloat32(data: ArrayLike<number>, from: number, to: number): Float32Array {
  const out = new Float32Array(to - from);
  if (data instanceof Uint16Array) {
    const t = float16Table();
    for (let i = from; i < to; i++) out[i - from] = t[data[i]!]!;
  } else {
    for (let i = from; i < to; i++) out[i - from] = data[i]!;
  }
  return out;
}

/**
 * `data` as float16 bit patterns, rounded to nearest, ties to even, as IEEE 754 converts (and
 * onnxruntime's Cast does), except that finite values past the largest float16 saturate to ±65504
 * instead of becoming ±Infinity. Values too small for its subnormals become ±0; ±Infinity and NaN
 * stay as they are.
 *
 * It feeds a float16 graph's cache from a store's float32 past (HalfCacheBridge), whose values all
 * came from float16 presents: a finite value past 65504 there is the store's approximation of one
 * that fitted (a dequantised value whose scale was rounded up) or a re-rotated key, and a cached
 * Infinity would turn attention into NaN.
 */
export function float32ToFloat16(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  // The float32 bits, read in place.
  float32BitsToFloat16(new Uint32Array(data.buffer, data.byteOffset, data.length), 0, data.length, out);
  return out;
}

/**
 * {@link float32ToFloat16} of the float32 values whose bit patterns are `bits[from..to)`, written
 * to `out` at the same indices (nothing else is touched): nearest, ties to even, finite values
 * past 65504 saturating to ±65504. For a `KvCacheStore` that feeds a float16 graph's cache
 * itself (`float16Cache`) from a float32 working buffer: keep a `Uint32Array` view of the buffer
 * and convert only the slots that changed.
 */
export function float32BitsToFloat16(bits: Uint32Array, from: number, to: number, out: Uint16Array): void {
  for (let i = from; i < to; i++) {
    const b = bits[i]!;
    const magnitude = b & 0x7fffffff;
    // Normal in float16, not rounding past its largest (65504): re-bias the exponent (127 -> 15),
    // round the 13 dropped bits to nearest even (a carry moves to the next binade), keep the sign.
    out[i] =
      magnitude >= 0x38800000 && magnitude < 0x477ff000
        ? ((b >>> 16) & 0x8000) | ((magnitude - 0x38000000 + 0x0fff + ((magnitude >>> 13) & 1)) >>> 13)
        : halfBits(b);
  }
}

/** One float32's bits as float16 bits outside float32ToFloat16's fast range: zero, subnormals, saturation, Infinity, NaN. */
function halfBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const fraction = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (fraction === 0 ? 0 : 0x200 | (fraction >>> 13));
  // Finite and rounding past 65504 (from 65520, its midpoint with 65536, on): the largest float16.
  if ((bits & 0x7fffffff) >= 0x477ff000) return sign | 0x7bff;
  // Below the smallest normal float16: a subnormal (or zero), the significand with its leading 1
  // shifted into place (e, the float16 exponent field for this value, is ≤ 0).
  const e = exponent - 112;
  if (e < -10) return sign;
  const significand = fraction | 0x800000;
  const shift = 14 - e;
  const half = significand >>> shift;
  const rest = significand & ((1 << shift) - 1);
  const midway = 1 << (shift - 1);
  return sign | (rest > midway || (rest === midway && (half & 1) === 1) ? half + 1 : half);
}

/**
 * A float tensor's values as float32: a float32 tensor's own data, a float16 one's converted into a
 * new array (fp16 exports return float16 `present.*`, and may return float16 `attentions.*`).
 * For plugins that read graph outputs (`ForwardObservation.outputs`). Other types are a `TypeError`.
 */
export function tensorFloat32(tensor: Pick<BackendTensor, 'type' | 'data'>): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') return float16ToFloat32(tensor.data as ArrayLike<number>, 0, tensor.data.length);
  throw new TypeError(`expected a float32 or float16 tensor, got ${tensor.type}`);
}
