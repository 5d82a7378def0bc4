/** float32 value of every float16 bit pattern, built on first use (256 KiB). */
let table: Float32Array | undefined;

function float16Table(): Float32Array {
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
