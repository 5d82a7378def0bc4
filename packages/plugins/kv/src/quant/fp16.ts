/**
 * IEEE 754 binary16 ("half") conversion: float32 → half with round-to-nearest-even, half → float32
 * through a 65 536-entry table, and directed rounding (down / up) for quantisation parameters.
 * Halves are plain numbers 0..0xffff, stored in `Uint16Array`s.
 *
 * Two conversions to half, on purpose: {@link toHalf} (fp16 storage, codes' scales) follows IEEE 754,
 * so a finite value past 65504 becomes ±Infinity and the caller can refuse it; the conversion a
 * float16 graph's cache is fed through, {@link saturatingHalves}, is core's `float32BitsToFloat16`,
 * which core's own float16 cache bridge uses too and which saturates at ±65504. The decode table is
 * core's `float16Table` (one table per process).
 */
import { float16Table, float32BitsToFloat16 } from '@weft/core';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Nearest half (ties to even) of `value`, as its 16-bit pattern. Overflow gives ±Infinity. */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const e = (x >>> 23) & 0xff;
  const m = x & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m !== 0 ? 0x200 : 0); // Inf, NaN (quiet)
  const he = e - 112; // exponent rebiased from 127 to 15
  if (he >= 0x1f) return sign | 0x7c00;
  if (he <= 0) {
    // Subnormal half (or zero): value = M · 2^(e−150) = round(M >> (14 − he)) · 2^−24.
    if (he < -10) return sign;
    const mant = m | 0x800000;
    const shift = 14 - he;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = sign | (he << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
  return h;
}

/**
 * Halves of float32 values given as their bit patterns (`bits[i]`, i in [from, to)) into `out` at
 * the same indices, for feeding a float16 graph's cache: round-to-nearest-even, except that a
 * finite value beyond fp16's range (|x| ≥ 65520, which rounds to ±Infinity) saturates to ±65504.
 * Infinity and NaN stay as they are. The values fed there are dequantisations of float16 values,
 * which fitted: one just past 65504 is the overshoot of a rounded-up scale, not a larger value.
 * This is core's `float32BitsToFloat16` (the same conversion as core's float16 cache bridge).
 */
export const saturatingHalves: (bits: Uint32Array, from: number, to: number, out: Uint16Array) => void = float32BitsToFloat16;

/** The decode table: `halfTable()[h]` is the value of half `h` (core's `float16Table`, built on first use; read it, never write it). */
export function halfTable(): Float32Array {
  return float16Table();
}

/** Value of the half with bit pattern `h`. */
export function fromHalf(h: number): number {
  return halfTable()[h & 0xffff]!;
}

/** The largest half ≤ `value` (round toward −∞). */
export function halfFloor(value: number): number {
  const h = toHalf(value);
  if (!(fromHalf(h) > value)) return h;
  if (h === 0x0000) return 0x8001; // +0 → −smallest subnormal
  return h & 0x8000 ? h + 1 : h - 1;
}

/** The smallest half ≥ `value` (round toward +∞). */
export function halfCeil(value: number): number {
  const h = toHalf(value);
  if (!(fromHalf(h) < value)) return h;
  if (h === 0x8000) return 0x0001; // −0 → +smallest subnormal
  return h & 0x8000 ? h - 1 : h + 1;
}

/** Encodes float32 values as halves (round-to-nearest-even), into `out` from `outOffset` when given. */
export function encodeFp16(values: ArrayLike<number>, out: Uint16Array = new Uint16Array(values.length), outOffset = 0): Uint16Array {
  checkRoom(values.length, out.length, outOffset);
  for (let i = 0; i < values.length; i++) out[outOffset + i] = toHalf(values[i]!);
  return out;
}

/** Decodes halves to float32, into `out` from `outOffset` when given. */
export function decodeFp16(halves: ArrayLike<number>, out: Float32Array = new Float32Array(halves.length), outOffset = 0): Float32Array {
  checkRoom(halves.length, out.length, outOffset);
  const t = halfTable();
  for (let i = 0; i < halves.length; i++) out[outOffset + i] = t[halves[i]!]!;
  return out;
}

/** A typed array would drop writes past its end without a word: refuse an output too short. */
function checkRoom(count: number, length: number, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + count > length) {
    throw new RangeError(`${count} values from offset ${offset} do not fit an output of length ${length}`);
  }
}
