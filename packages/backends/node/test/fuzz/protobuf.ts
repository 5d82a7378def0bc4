/**
 * Just enough protobuf to take an ONNX model apart and put an edited one back together, for the
 * load fuzzer: a message is a list of fields in file order (unknown fields kept as they are), and
 * varints are bigints so that the 64-bit dims the fuzzer writes survive.
 */

/** One field of a message: a varint, a length-delimited body, or a fixed 32/64-bit value. */
export type Field =
  | { readonly num: number; readonly wire: 0; value: bigint }
  | { readonly num: number; readonly wire: 2; value: Uint8Array }
  | { readonly num: number; readonly wire: 1 | 5; value: Uint8Array };

/** Fields of an ONNX ModelProto, GraphProto, NodeProto… that the mutations touch. */
export const ONNX = {
  model: { irVersion: 1, opsetImport: 8, graph: 7 },
  opset: { domain: 1, version: 2 },
  graph: { node: 1, name: 2, initializer: 5, input: 11, output: 12, valueInfo: 13 },
  node: { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 },
  attribute: { name: 1, t: 5, g: 6, type: 20 },
  tensor: { dims: 1, dataType: 2, int64Data: 7, name: 8, rawData: 9, externalData: 13, dataLocation: 14 },
  entry: { key: 1, value: 2 },
  valueInfo: { name: 1, type: 2 },
  type: { tensor: 1 },
  tensorType: { elemType: 1, shape: 2 },
  shape: { dim: 1 },
  dim: { value: 1, param: 2 },
} as const;

function readVarint(bytes: Uint8Array, at: number): [bigint, number] {
  let value = 0n;
  let shift = 0n;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    const b = bytes[i]!;
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [value, i + 1];
    shift += 7n;
  }
  throw new Error(`bad varint at ${at}`);
}

/** The fields of one message (throws on bytes that are not a message). */
export function decode(bytes: Uint8Array): Field[] {
  const fields: Field[] = [];
  let at = 0;
  while (at < bytes.length) {
    const [tag, afterTag] = readVarint(bytes, at);
    const num = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    at = afterTag;
    if (wire === 0) {
      const [value, next] = readVarint(bytes, at);
      fields.push({ num, wire, value });
      at = next;
    } else if (wire === 2) {
      const [length, start] = readVarint(bytes, at);
      const end = start + Number(length);
      if (end > bytes.length) throw new Error(`field ${num} runs past the end`);
      fields.push({ num, wire, value: bytes.subarray(start, end) });
      at = end;
    } else if (wire === 1 || wire === 5) {
      const end = at + (wire === 1 ? 8 : 4);
      fields.push({ num, wire, value: bytes.subarray(at, end) });
      at = end;
    } else {
      throw new Error(`wire type ${wire} at ${at}`);
    }
  }
  return fields;
}

function writeVarint(out: number[], value: bigint): void {
  // Negative int64 values are written as their two's complement, in 10 bytes, as protobuf does.
  let v = value < 0n ? value + (1n << 64n) : value;
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

/** The bytes of a message made of `fields`. */
export function encode(fields: readonly Field[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const field of fields) {
    const head: number[] = [];
    writeVarint(head, BigInt(field.num * 8 + field.wire));
    if (field.wire === 0) writeVarint(head, field.value);
    else if (field.wire === 2) writeVarint(head, BigInt(field.value.length));
    const headBytes = Uint8Array.from(head);
    parts.push(headBytes);
    size += headBytes.length;
    if (field.wire !== 0) {
      parts.push(field.value);
      size += field.value.length;
    }
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export const bytesField = (num: number, value: Uint8Array): Field => ({ num, wire: 2, value });
export const stringField = (num: number, value: string): Field => bytesField(num, new TextEncoder().encode(value));
export const varintField = (num: number, value: bigint | number): Field => ({ num, wire: 0, value: BigInt(value) });

/** The text of a length-delimited field. */
export const text = (field: Field | undefined): string | undefined =>
  field?.wire === 2 ? new TextDecoder().decode(field.value) : undefined;

/** The first field numbered `num`. */
export const first = (fields: readonly Field[], num: number): Field | undefined => fields.find((f) => f.num === num);

/** Indexes of the fields numbered `num`. */
export const indexesOf = (fields: readonly Field[], num: number): number[] =>
  fields.flatMap((f, i) => (f.num === num ? [i] : []));

/**
 * Replaces the body of the length-delimited field at `index` of `fields` with what `edit` makes of
 * its decoded fields (a copy; the input is not changed).
 */
export function editChild(fields: readonly Field[], index: number, edit: (child: Field[]) => Field[]): Field[] {
  const field = fields[index]!;
  if (field.wire !== 2) throw new Error(`field ${field.num} is not a message`);
  const copy = [...fields];
  copy[index] = bytesField(field.num, encode(edit(decode(field.value))));
  return copy;
}

/** `model` with its graph's fields replaced by what `edit` makes of them. */
export function editGraph(model: Uint8Array, edit: (graph: Field[]) => Field[]): Uint8Array {
  const fields = decode(model);
  const at = fields.findIndex((f) => f.num === ONNX.model.graph);
  if (at < 0) throw new Error('no graph');
  return encode(editChild(fields, at, edit));
}
