import { ModelLoadError } from '../errors/model-load-error.js';

/**
 * Which external data files an ONNX graph reads its tensors from. Exports of models over 2 GB (and
 * many others) keep their weights beside the graph, in files such as `model.onnx_data`, named in
 * each tensor's `external_data` entry `location`. onnxruntime finds them itself when it opens the
 * graph from a path; a graph handed over as bytes needs them handed over too.
 *
 * This walks the ONNX protobuf's structure only (graphs, nodes, attributes, tensors), skipping
 * every payload in O(1), so it costs the same for a 100 MB graph with inline weights as for a
 * small one. Bytes that are not a well-formed model give an empty list: the runtime reports
 * what is wrong with them.
 */
export function onnxExternalDataFiles(model: Uint8Array): string[] {
  return [...onnxExternalDataExtents(model).keys()];
}

/**
 * Each external data file an ONNX graph names (as {@link onnxExternalDataFiles}), with the number
 * of bytes its tensors read from it: the largest `offset + length` of its entries, or Infinity
 * when an entry gives no `length` (the rest of the file). Lets a reader refuse a file that is
 * bigger than the graph needs.
 */
export function onnxExternalDataExtents(model: Uint8Array): Map<string, number> {
  const found = new Map<string, number>();
  try {
    walk(model, 0, model.length, MODEL, found);
  } catch {
    return new Map();
  }
  return found;
}

/** One tensor's `external_data` entries, as far as read. */
interface ExternalEntries {
  location?: string;
  offset?: number;
  length?: number;
}

/** Message kinds the walk descends into, by the ONNX field numbers that hold sub-messages. */
type Kind = 'model' | 'graph' | 'node' | 'attribute' | 'tensor' | 'sparse' | 'function' | 'entry';

/** For each message kind: field number → the kind of message it holds (only fields worth entering). */
const CHILDREN: Record<Kind, Readonly<Record<number, Kind>>> = {
  // ModelProto: graph = 7, functions = 25
  model: { 7: 'graph', 25: 'function' },
  // GraphProto: node = 1, initializer = 5, sparse_initializer = 15
  graph: { 1: 'node', 5: 'tensor', 15: 'sparse' },
  // NodeProto: attribute = 5
  node: { 5: 'attribute' },
  // AttributeProto: t = 5, g = 6, tensors = 10, graphs = 11, sparse_tensor = 22, sparse_tensors = 23
  attribute: { 5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph', 22: 'sparse', 23: 'sparse' },
  // TensorProto: external_data = 13 (StringStringEntryProto)
  tensor: { 13: 'entry' },
  // SparseTensorProto: values = 1, indices = 2
  sparse: { 1: 'tensor', 2: 'tensor' },
  // FunctionProto: node = 7
  function: { 7: 'node' },
  entry: {},
};
const MODEL: Kind = 'model';
/** Deeper than any real graph nests (subgraphs of subgraphs); a hostile file cannot overflow the stack. */
const MAX_DEPTH = 64;

function walk(bytes: Uint8Array, start: number, end: number, kind: Kind, found: Map<string, number>, depth = 0, entries?: ExternalEntries): void {
  if (depth > MAX_DEPTH) throw new Error('nested too deeply');
  let key: string | undefined;
  let value: string | undefined;
  // A tensor gathers its entries; an entry writes into its tensor's.
  const tensor: ExternalEntries | undefined = kind === 'tensor' ? {} : entries;
  let at = start;
  while (at < end) {
    const [tag, afterTag] = varint(bytes, at, end);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    at = afterTag;
    if (wire === 0) at = varint(bytes, at, end)[1];
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const [length, bodyStart] = varint(bytes, at, end);
      const bodyEnd = bodyStart + length;
      if (bodyEnd > end) throw new Error('truncated');
      const child = CHILDREN[kind][field];
      if (child !== undefined) walk(bytes, bodyStart, bodyEnd, child, found, depth + 1, tensor);
      else if (kind === 'entry' && (field === 1 || field === 2)) {
        const text = new TextDecoder().decode(bytes.subarray(bodyStart, bodyEnd));
        if (field === 1) key = text;
        else value = text;
      }
      at = bodyEnd;
    } else throw new Error(`wire type ${wire}`);
    if (at > end) throw new Error('truncated');
  }
  if (kind === 'entry' && tensor && value !== undefined) {
    if (key === 'location') tensor.location = value;
    else if (key === 'offset' || key === 'length') tensor[key] = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  }
  if (kind === 'tensor' && tensor?.location !== undefined) {
    // No length (or an unreadable one): the tensor reads to the end of the file, whatever its size.
    const extent = tensor.length === undefined || !Number.isFinite(tensor.length) ? Number.POSITIVE_INFINITY : (tensor.offset || 0) + tensor.length;
    found.set(tensor.location, Math.max(found.get(tensor.location) ?? 0, extent));
  }
}

/** A protobuf varint at `at`: its value and the offset after it. */
function varint(bytes: Uint8Array, at: number, end: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < end && i < at + 10; i++) {
    const b = bytes[i]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, i + 1];
    scale *= 128;
  }
  throw new Error('bad varint');
}

/**
 * `location` as an external data file's name relative to its graph's folder, refused with a
 * `ModelLoadError` naming the graph when it could reach outside that folder or is empty: the name
 * comes from the graph file, which a model folder on a server or from a user controls. Refused:
 * absolute names, `.` and `..` segments, and every character a file path or URL parser reads
 * specially (`\`, `:`, `%` escapes such as `%2e%2e`, `?`, `#`, control characters, which URL
 * parsers drop), so the name means the same file on disk and joined onto a URL.
 */
export function checkExternalDataLocation(location: string, graph: string): string {
  const parts = location.split('/');
  const safe =
    location.length > 0 &&
    location.length <= 1024 &&
    !location.startsWith('/') &&
    !/[\\:%?#\u0000-\u001f\u007f]/.test(location) &&
    parts.every((p) => p !== '' && p !== '.' && p !== '..');
  if (!safe) {
    throw new ModelLoadError(`${graph} names an external data file at ${JSON.stringify(location)}, outside the graph's folder; only files beside the graph (or below it) are read.`, {
      path: graph,
    });
  }
  return location;
}
