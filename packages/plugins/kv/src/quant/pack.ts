/**
 * Bit packing of small unsigned codes into bytes, first value in the lowest bits (as
 * onnxruntime's MatMulNBits packs 4-bit weights): two int4 or four int2 per byte.
 */

/** Code widths the stores use. */
export type PackBits = 1 | 2 | 4 | 8;

function checkBits(bits: number): asserts bits is PackBits {
  if (bits !== 1 && bits !== 2 && bits !== 4 && bits !== 8) throw new RangeError(`bits must be 1, 2, 4 or 8 (got ${bits})`);
}

/** Bytes that `count` codes of `bits` bits take. */
export function packedBytes(count: number, bits: PackBits): number {
  return Math.ceil((count * bits) / 8);
}

/** Packs `codes` (each < 2^bits) into bytes. */
export function pack(codes: ArrayLike<number>, bits: PackBits, out?: Uint8Array): Uint8Array {
  checkBits(bits);
  const bytes = packedBytes(codes.length, bits);
  const dst = out ?? new Uint8Array(bytes);
  if (dst.length < bytes) throw new RangeError(`pack needs ${bytes} bytes, got ${dst.length}`);
  dst.fill(0, 0, bytes);
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  for (let i = 0; i < codes.length; i++) {
    const q = codes[i]!;
    if (q < 0 || q > mask || !Number.isInteger(q)) throw new RangeError(`code ${q} does not fit in ${bits} bits`);
    dst[(i / perByte) | 0]! |= q << ((i % perByte) * bits);
  }
  return dst;
}

/** Unpacks `count` codes of `bits` bits (into `out` when given: at least `count` long). */
export function unpack(packed: Uint8Array, bits: PackBits, count: number, out: Uint8Array = new Uint8Array(count)): Uint8Array {
  checkBits(bits);
  if (packed.length < packedBytes(count, bits)) throw new RangeError(`${count} codes of ${bits} bits need ${packedBytes(count, bits)} bytes`);
  if (out.length < count) throw new RangeError(`unpack of ${count} codes needs an output of ${count}, got ${out.length}`);
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  for (let i = 0; i < count; i++) out[i] = (packed[(i / perByte) | 0]! >>> ((i % perByte) * bits)) & mask;
  return out;
}

/** Two 4-bit codes per byte, the first in the low nibble. */
export const packInt4 = (codes: ArrayLike<number>, out?: Uint8Array): Uint8Array => pack(codes, 4, out);
/** The `count` 4-bit codes {@link packInt4} packed (into `out` when given). */
export const unpackInt4 = (packed: Uint8Array, count: number, out?: Uint8Array): Uint8Array => unpack(packed, 4, count, out);
/** Four 2-bit codes per byte, the first in the lowest two bits. */
export const packInt2 = (codes: ArrayLike<number>, out?: Uint8Array): Uint8Array => pack(codes, 2, out);
/** The `count` 2-bit codes {@link packInt2} packed (into `out` when given). */
export const unpackInt2 = (packed: Uint8Array, count: number, out?: Uint8Array): Uint8Array => unpack(packed, 2, count, out);
