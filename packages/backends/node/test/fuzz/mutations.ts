/**
 * Seeded corruptions of a model folder for the load fuzzer (`../load-fuzz.test.ts`). `mutate(seed,
 * base)` picks one mutation from the seed alone, so a seed printed by a failing case makes the
 * same folder again. The base folder is read once; a mutation is a set of overrides over it.
 */
import {
  bytesField,
  decode,
  editChild,
  editGraph,
  encode,
  first,
  indexesOf,
  ONNX,
  stringField,
  text,
  varintField,
  type Field,
} from './protobuf.js';

/** The files of a model folder, by path within it. */
export type ModelFiles = Readonly<Record<string, Uint8Array>>;

/** What a mutation puts at a path instead of the base file. */
export type Override =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'missing' }
  | { readonly kind: 'directory' }
  /** A symbolic link to `target` (absolute, or relative to the link's folder). */
  | { readonly kind: 'link'; readonly target: string }
  /** A named pipe: reading it blocks until something writes. */
  | { readonly kind: 'fifo' };

export interface Mutation {
  /** Family and name, e.g. `onnx.truncate`. */
  readonly kind: string;
  /** What exactly was done, enough to read the case without re-running it. */
  readonly detail: string;
  /** The file it is about (within the folder). */
  readonly file: string;
  readonly overrides: Readonly<Record<string, Override>>;
  /** Whether the case should also render a chat (the mutation is about the chat template). */
  readonly chat?: boolean;
}

export const GRAPH = 'onnx/model.onnx';

/** mulberry32: a small seeded generator, enough for picking mutations. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const bytes = (b: Uint8Array): Override => ({ kind: 'bytes', bytes: b });

/**
 * A value written into JSON as it is, for numbers JSON.stringify cannot make (`1e400` parses as
 * Infinity) or text that is not JSON at all.
 */
class Raw {
  constructor(readonly text: string) {}
  toJSON(): string {
    return `\u0000RAW${this.text}\u0000`;
  }
}
const raw = (t: string): Raw => new Raw(t);
function stringify(value: unknown): string {
  return JSON.stringify(value, null, 1).replace(/"\\u0000RAW(.*?)\\u0000"/g, (_, t: string) => t);
}

/** Values that are wrong for most fields, in type or range. */
const WEIRD: readonly unknown[] = [
  null, true, false, '6', '', 'NaN', -1, 0, 0.5, -6, 1.5, 1e308, raw('1e400'), raw('-1e400'), 2 ** 31, 2 ** 32 + 1,
  2 ** 53 + 1, -(2 ** 31), 1e-300, [], {}, [6], [[]], { a: 1 }, raw('-0'),
];

function flipBytes(rng: Rng, source: Uint8Array, start: number, end: number, count: number): { out: Uint8Array; at: number[] } {
  const out = Uint8Array.from(source);
  const at: number[] = [];
  for (let i = 0; i < count; i++) {
    const offset = start + rng.int(Math.max(1, end - start));
    if (offset >= out.length) continue;
    const before = out[offset]!;
    // Half the time a single bit, else a whole random byte, else a byte typical of protobuf tags.
    out[offset] = rng.next() < 0.5 ? before ^ (1 << rng.int(8)) : rng.next() < 0.5 ? rng.int(256) : rng.pick([0x00, 0xff, 0x7f, 0x80, 0x08, 0x12, 0x0a]);
    at.push(offset);
  }
  return { out, at };
}

// ---------------------------------------------------------------------------------------------
// ONNX graph mutations

interface GraphView {
  readonly model: Uint8Array;
  readonly graph: Field[];
  /** Offset in the file where the graph's body starts, and of each initializer's raw_data. */
  readonly graphStart: number;
  readonly nodesEnd: number;
  readonly rawData: readonly { start: number; end: number; name: string }[];
}

function viewGraph(model: Uint8Array): GraphView {
  const top = decode(model);
  const graphField = first(top, ONNX.model.graph)!;
  const graph = decode(graphField.value as Uint8Array);
  const graphStart = (graphField.value as Uint8Array).byteOffset - model.byteOffset;
  const rawData: { start: number; end: number; name: string }[] = [];
  let nodesEnd = graphStart;
  for (const field of graph) {
    const body = field.value as Uint8Array;
    const start = body.byteOffset - model.byteOffset;
    if (field.num === ONNX.graph.node) nodesEnd = Math.max(nodesEnd, start + body.length);
    if (field.num === ONNX.graph.initializer) {
      const tensor = decode(body);
      const data = first(tensor, ONNX.tensor.rawData);
      if (data?.wire === 2) {
        const at = data.value.byteOffset - model.byteOffset;
        rawData.push({ start: at, end: at + data.value.length, name: text(first(tensor, ONNX.tensor.name)) ?? '?' });
      }
    }
  }
  return { model, graph, graphStart, nodesEnd, rawData };
}

const nameOfTensor = (tensor: readonly Field[]): string => text(first(tensor, ONNX.tensor.name)) ?? '?';
const nameOfValue = (info: readonly Field[]): string => text(first(info, ONNX.valueInfo.name)) ?? '?';
const opOf = (node: readonly Field[]): string => text(first(node, ONNX.node.opType)) ?? '?';

/** Dims a fuzzer writes into a tensor or a declared shape. */
const HUGE_DIMS: readonly (readonly bigint[])[] = [
  [1n << 40n],
  [1n << 31n, 1n << 31n],
  [1n << 62n, 4n],
  [-1n, 192n],
  [0n, 192n],
  [1024n, 192n, 1n],
  [(1n << 63n) - 1n],
  [3n, 5n],
  [],
];

type GraphMutation = (rng: Rng, view: GraphView) => { detail: string; bytes: Uint8Array };

const graphMutations: Record<string, GraphMutation> = {
  truncate(rng, { model }) {
    // A third near the start (headers, first nodes), a third in the nodes, a third anywhere.
    const r = rng.next();
    const at = r < 1 / 3 ? rng.int(1024) : r < 2 / 3 ? rng.int(140_000) : rng.int(model.length);
    return { detail: `cut at byte ${at} of ${model.length}`, bytes: model.slice(0, at) };
  },
  'flip-header'(rng, { model }) {
    const { out, at } = flipBytes(rng, model, 0, 64, rng.between(1, 4));
    return { detail: `bytes changed at ${at.join(', ')}`, bytes: out };
  },
  'flip-nodes'(rng, { model, graphStart, nodesEnd }) {
    const { out, at } = flipBytes(rng, model, graphStart, nodesEnd, rng.between(1, 8));
    return { detail: `bytes changed at ${at.join(', ')} (nodes)`, bytes: out };
  },
  'flip-initializer-data'(rng, { model, rawData }) {
    const target = rng.pick(rawData);
    const { out, at } = flipBytes(rng, model, target.start, target.end, rng.between(1, 64));
    return { detail: `bytes changed at ${at.join(', ')} (raw data of ${target.name})`, bytes: out };
  },
  'flip-initializer-meta'(rng, { model, rawData }) {
    // The bytes between one initializer's data and the next: its tag, dims, type and name.
    const i = rng.int(rawData.length);
    const start = rawData[i]!.end;
    const end = i + 1 < rawData.length ? rawData[i + 1]!.start : model.length;
    const { out, at } = flipBytes(rng, model, start, end, rng.between(1, 3));
    return { detail: `bytes changed at ${at.join(', ')} (tensor fields after ${rawData[i]!.name})`, bytes: out };
  },
  'flip-anywhere'(rng, { model }) {
    const { out, at } = flipBytes(rng, model, 0, model.length, rng.between(1, 32));
    return { detail: `bytes changed at ${at.join(', ')}`, bytes: out };
  },
  empty() {
    return { detail: 'zero-length file', bytes: new Uint8Array(0) };
  },
  'not-onnx'(rng) {
    const choices: [string, Uint8Array][] = [
      ['a Git LFS pointer', utf8('version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 7225095\n')],
      ['an HTML page', utf8('<!doctype html><html><body>Not found</body></html>')],
      ['JSON', utf8('{"error": "not found"}')],
      ['one zero byte', Uint8Array.of(0)],
      ['random bytes', Uint8Array.from({ length: rng.between(1, 4096) }, () => rng.int(256))],
      ['a length that runs past the end', Uint8Array.of(0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00)],
      ['a varint that never ends', new Uint8Array(64).fill(0xff)],
    ];
    const [what, content] = rng.pick(choices);
    return { detail: what, bytes: content };
  },
  'initializer-dims'(rng, { model, graph }) {
    const which = rng.pick(indexesOf(graph, ONNX.graph.initializer));
    const dims = rng.pick(HUGE_DIMS);
    let name = '';
    const out = editChild(graph, which, (tensor) => {
      name = nameOfTensor(tensor);
      const rest = tensor.filter((f) => f.num !== ONNX.tensor.dims);
      return [...dims.map((d) => varintField(ONNX.tensor.dims, d)), ...rest];
    });
    return { detail: `initializer ${name} declared with dims [${dims.join(', ')}]`, bytes: replaceGraph(model, out) };
  },
  'initializer-type'(rng, { model, graph }) {
    const which = rng.pick(indexesOf(graph, ONNX.graph.initializer));
    const type = rng.pick([0, 2, 7, 8, 9, 10, 11, 16, 17, 23, 99, 2 ** 31]);
    let name = '';
    const out = editChild(graph, which, (tensor) => {
      name = nameOfTensor(tensor);
      return tensor.map((f) => (f.num === ONNX.tensor.dataType ? varintField(f.num, type) : f));
    });
    return { detail: `initializer ${name} given data_type ${type}`, bytes: replaceGraph(model, out) };
  },
  'initializer-short-data'(rng, { model, graph }) {
    const which = rng.pick(indexesOf(graph, ONNX.graph.initializer));
    let name = '';
    let detail = '';
    const out = editChild(graph, which, (tensor) => {
      name = nameOfTensor(tensor);
      return tensor.flatMap((f) => {
        if (f.num !== ONNX.tensor.rawData || f.wire !== 2) return [f];
        const keep = rng.pick([0, 1, 3, f.value.length - 1, f.value.length >> 1]);
        if (rng.next() < 0.2) {
          detail = 'raw_data dropped';
          return [];
        }
        detail = `raw_data cut to ${keep} of ${f.value.length} bytes`;
        return [bytesField(f.num, f.value.slice(0, keep))];
      });
    });
    return { detail: `initializer ${name}: ${detail}`, bytes: replaceGraph(model, out) };
  },
  'initializer-external'(rng, { model, graph }) {
    const which = rng.pick(indexesOf(graph, ONNX.graph.initializer));
    const location = rng.pick(['model.onnx_data', 'model.onnx', '../config.json', '../../../../../../etc/hostname', '/etc/hostname', '/dev/zero', '', 'sub/../../x']);
    const offset = rng.pick([undefined, '0', '16', '7225000', String(2 ** 40), '-5', 'x']);
    const length = rng.pick([undefined, '0', '4', '786432', String(2 ** 40), String(2 ** 62), '-1']);
    let name = '';
    const out = editChild(graph, which, (tensor) => {
      name = nameOfTensor(tensor);
      const entry = (key: string, value: string): Field => bytesField(ONNX.tensor.externalData, encode([stringField(ONNX.entry.key, key), stringField(ONNX.entry.value, value)]));
      return [
        ...tensor.filter((f) => f.num !== ONNX.tensor.rawData),
        entry('location', location),
        ...(offset === undefined ? [] : [entry('offset', offset)]),
        ...(length === undefined ? [] : [entry('length', length)]),
        varintField(ONNX.tensor.dataLocation, 1),
      ];
    });
    return { detail: `initializer ${name} moved to external data ${JSON.stringify({ location, offset, length })}`, bytes: replaceGraph(model, out) };
  },
  'io-dims'(rng, { model, graph }) {
    const list = rng.pick([ONNX.graph.input, ONNX.graph.output]);
    const which = rng.pick(indexesOf(graph, list));
    const value = rng.pick([1n << 40n, -1n, 0n, 1n, 3n, 1n << 62n, 64n, 1023n]);
    let name = '';
    let where = 0;
    const out = editChild(graph, which, (info) => {
      name = nameOfValue(info);
      return editPath(info, [ONNX.valueInfo.type, ONNX.type.tensor, ONNX.tensorType.shape], (shape) => {
        const dims = indexesOf(shape, ONNX.shape.dim);
        if (dims.length === 0) return shape;
        where = rng.int(dims.length);
        return editChild(shape, dims[where]!, () => [varintField(ONNX.dim.value, value)]);
      });
    });
    return { detail: `${list === ONNX.graph.input ? 'input' : 'output'} ${name}: dim ${where} declared as ${value}`, bytes: replaceGraph(model, out) };
  },
  'io-type'(rng, { model, graph }) {
    const list = rng.pick([ONNX.graph.input, ONNX.graph.output]);
    const which = rng.pick(indexesOf(graph, list));
    const type = rng.pick([0, 2, 6, 7, 9, 10, 11, 16, 99]);
    let name = '';
    const out = editChild(graph, which, (info) => {
      name = nameOfValue(info);
      return editPath(info, [ONNX.valueInfo.type, ONNX.type.tensor], (tensorType) =>
        tensorType.map((f) => (f.num === ONNX.tensorType.elemType ? varintField(f.num, type) : f)),
      );
    });
    return { detail: `${list === ONNX.graph.input ? 'input' : 'output'} ${name} declared as element type ${type}`, bytes: replaceGraph(model, out) };
  },
  'io-rename'(rng, { model, graph }) {
    const list = rng.pick([ONNX.graph.input, ONNX.graph.output]);
    const which = rng.pick(indexesOf(graph, list));
    const fresh = rng.pick(['input_idz', 'logits', 'input_ids', 'present.9.key', 'past_key_values.0.key', '', 'x'.repeat(4096), 'past_key_values.99999999999999999999.key']);
    let name = '';
    const out = editChild(graph, which, (info) => {
      name = nameOfValue(info);
      return info.map((f) => (f.num === ONNX.valueInfo.name ? stringField(f.num, fresh) : f));
    });
    return { detail: `${list === ONNX.graph.input ? 'input' : 'output'} ${name} renamed ${JSON.stringify(fresh.length > 40 ? `${fresh.slice(0, 8)}…(${fresh.length})` : fresh)}`, bytes: replaceGraph(model, out) };
  },
  'io-drop'(rng, { model, graph }) {
    const list = rng.pick([ONNX.graph.input, ONNX.graph.output]);
    const which = rng.pick(indexesOf(graph, list));
    const name = nameOfValue(decode(graph[which]!.value as Uint8Array));
    return { detail: `${list === ONNX.graph.input ? 'input' : 'output'} ${name} dropped`, bytes: replaceGraph(model, graph.filter((_, i) => i !== which)) };
  },
  'node-drop'(rng, { model, graph }) {
    const which = rng.pick(indexesOf(graph, ONNX.graph.node));
    const op = opOf(decode(graph[which]!.value as Uint8Array));
    return { detail: `node #${which} (${op}) dropped`, bytes: replaceGraph(model, graph.filter((_, i) => i !== which)) };
  },
  'node-op'(rng, { model, graph }) {
    const which = rng.pick(indexesOf(graph, ONNX.graph.node));
    const fresh = rng.pick(['Nope', 'MatMul', 'Reshape', 'Loop', 'If', 'Identity', 'Softmax', 'ConstantOfShape', '']);
    let op = '';
    const out = editChild(graph, which, (node) => {
      op = opOf(node);
      return node.map((f) => (f.num === ONNX.node.opType ? stringField(f.num, fresh) : f));
    });
    return { detail: `node #${which} (${op}) turned into ${JSON.stringify(fresh)}`, bytes: replaceGraph(model, out) };
  },
  'node-rewire'(rng, { model, graph }) {
    const which = rng.pick(indexesOf(graph, ONNX.graph.node));
    const fresh = rng.pick(['dangling', 'input_ids', 'logits', 'model.embed_tokens.weight', '']);
    let op = '';
    let detail = '';
    const out = editChild(graph, which, (node) => {
      op = opOf(node);
      const slots = indexesOf(node, rng.next() < 0.7 ? ONNX.node.input : ONNX.node.output);
      if (slots.length === 0) return node;
      const slot = rng.pick(slots);
      detail = `${node[slot]!.num === ONNX.node.input ? 'input' : 'output'} ${JSON.stringify(text(node[slot]))} → ${JSON.stringify(fresh)}`;
      return node.map((f, i) => (i === slot ? stringField(f.num, fresh) : f));
    });
    return { detail: `node #${which} (${op}): ${detail}`, bytes: replaceGraph(model, out) };
  },
  'constant-values'(rng, { model, graph }) {
    // A Constant's int64 payload (shapes, axes, indices) turned huge or negative: shape
    // arithmetic at load (constant folding) or at the first run meets dims it must refuse.
    const constants = indexesOf(graph, ONNX.graph.node).filter((i) => opOf(decode(graph[i]!.value as Uint8Array)) === 'Constant');
    const which = rng.pick(constants);
    const value = rng.pick([1n << 40n, 1n << 62n, -(1n << 40n), -1n, 0n, 1n << 20n]);
    let changed = false;
    const out = editChild(graph, which, (node) =>
      node.map((f, i) =>
        f.num !== ONNX.node.attribute
          ? f
          : editChild(node, i, (attr) =>
              attr.map((a, j) =>
                a.num !== ONNX.attribute.t
                  ? a
                  : editChild(attr, j, (tensor) => {
                      const type = Number((first(tensor, ONNX.tensor.dataType)?.value as bigint | undefined) ?? 0n);
                      if (type !== 7) return tensor;
                      changed = true;
                      return tensor.map((t) => {
                        if (t.num !== ONNX.tensor.rawData || t.wire !== 2) return t;
                        const values = new BigInt64Array(t.value.length >> 3).fill(value);
                        return bytesField(t.num, new Uint8Array(values.buffer));
                      });
                    })[j]!,
              ),
            )[i]!,
      ),
    );
    return { detail: `Constant node #${which}: int64 values set to ${value}${changed ? '' : ' (not int64: unchanged)'}`, bytes: replaceGraph(model, out) };
  },
  'huge-output'(rng, { model, graph }) {
    // An extra output made by ConstantOfShape from a constant shape of huge dims.
    const dims = rng.pick([[1n << 20n, 1n << 20n, 1n << 10n], [1n << 62n], [1n << 31n, 1n << 31n], [-1n], [1n << 16n, 1n << 12n]]);
    const shape = encode([
      varintField(ONNX.tensor.dims, BigInt(dims.length)),
      varintField(ONNX.tensor.dataType, 7),
      bytesField(ONNX.tensor.rawData, new Uint8Array(BigInt64Array.from(dims).buffer)),
    ]);
    const constant = encode([
      stringField(ONNX.node.output, 'fuzz_shape'),
      stringField(ONNX.node.opType, 'Constant'),
      bytesField(ONNX.node.attribute, encode([stringField(ONNX.attribute.name, 'value'), bytesField(ONNX.attribute.t, shape), varintField(ONNX.attribute.type, 4)])),
    ]);
    const fill = encode([stringField(ONNX.node.input, 'fuzz_shape'), stringField(ONNX.node.output, 'fuzz_huge'), stringField(ONNX.node.opType, 'ConstantOfShape')]);
    const output = encode([
      stringField(ONNX.valueInfo.name, 'fuzz_huge'),
      bytesField(ONNX.valueInfo.type, encode([bytesField(ONNX.type.tensor, encode([varintField(ONNX.tensorType.elemType, 1)]))])),
    ]);
    const out = [bytesField(ONNX.graph.node, constant), bytesField(ONNX.graph.node, fill), ...graph, bytesField(ONNX.graph.output, output)];
    return { detail: `extra output ConstantOfShape([${dims.join(', ')}])`, bytes: replaceGraph(model, out) };
  },
  'deep-subgraphs'(rng, { model, graph }) {
    // A node whose then_branch holds a graph whose node's then_branch holds a graph … `depth` deep.
    const depth = rng.pick([150, 1_000, 20_000]);
    let inner = encode([stringField(ONNX.graph.name, 'leaf')]);
    for (let i = 0; i < depth; i++) {
      const attr = encode([stringField(ONNX.attribute.name, 'then_branch'), bytesField(ONNX.attribute.g, inner), varintField(ONNX.attribute.type, 5)]);
      const node = encode([stringField(ONNX.node.input, 'fuzz_cond'), stringField(ONNX.node.opType, 'If'), bytesField(ONNX.node.attribute, attr)]);
      inner = encode([bytesField(ONNX.graph.node, node)]);
    }
    const nodes = decode(inner);
    return { detail: `an If node nesting subgraphs ${depth} deep`, bytes: replaceGraph(model, [...nodes, ...graph]) };
  },
  'ir-version'(rng, { model }) {
    const version = rng.pick([0n, 1n, 3n, 99n, 1n << 40n, -1n]);
    const fields = decode(model).map((f) => (f.num === ONNX.model.irVersion ? varintField(f.num, version) : f));
    return { detail: `ir_version ${version}`, bytes: encode(fields) };
  },
  opset(rng, { model }) {
    const choice = rng.int(4);
    const fields = decode(model);
    if (choice === 0) return { detail: 'no opset_import', bytes: encode(fields.filter((f) => f.num !== ONNX.model.opsetImport)) };
    if (choice === 1) {
      const extra = bytesField(ONNX.model.opsetImport, encode([stringField(ONNX.opset.domain, 'com.example.nope'), varintField(ONNX.opset.version, 1)]));
      return { detail: 'an extra opset_import of an unknown domain', bytes: encode([...fields, extra]) };
    }
    const version = rng.pick([1n, 7n, 99n, 1n << 40n, -1n]);
    const out = fields.map((f, i) =>
      f.num === ONNX.model.opsetImport ? editChild(fields, i, (o) => o.map((x) => (x.num === ONNX.opset.version ? varintField(x.num, version) : x)))[i]! : f,
    );
    return { detail: `opset version ${version}`, bytes: encode(out) };
  },
};

/** `fields` with the message at the path of field numbers replaced by `edit` of it (first match at each level). */
function editPath(fields: Field[], path: readonly number[], edit: (fields: Field[]) => Field[]): Field[] {
  if (path.length === 0) return edit(fields);
  const at = fields.findIndex((f) => f.num === path[0] && f.wire === 2);
  if (at < 0) return fields;
  return editChild(fields, at, (child) => editPath(child, path.slice(1), edit));
}

function replaceGraph(model: Uint8Array, graph: Field[]): Uint8Array {
  return editGraph(model, () => graph);
}

// ---------------------------------------------------------------------------------------------
// JSON file mutations

type Json = Record<string, unknown>;

/** Whole-file damage that any JSON file can get. */
function damageText(rng: Rng, source: Uint8Array): { detail: string; bytes: Uint8Array } {
  const choice = rng.int(8);
  switch (choice) {
    case 0: {
      const at = rng.int(source.length);
      return { detail: `cut at byte ${at} of ${source.length}`, bytes: source.slice(0, at) };
    }
    case 1: {
      const { out, at } = flipBytes(rng, source, 0, source.length, rng.between(1, 6));
      return { detail: `bytes changed at ${at.join(', ')}`, bytes: out };
    }
    case 2:
      return { detail: 'zero-length file', bytes: new Uint8Array(0) };
    case 3: {
      const value = rng.pick(['null', '[]', '5', '"text"', 'true', '{}', '[{}]']);
      return { detail: `the file holds ${value}`, bytes: utf8(value) };
    }
    case 4:
      return { detail: 'a byte-order mark before the JSON', bytes: Uint8Array.from([0xef, 0xbb, 0xbf, ...source]) };
    case 5: {
      const depth = rng.pick([1_000, 100_000, 1_000_000]);
      return { detail: `arrays nested ${depth} deep`, bytes: utf8('['.repeat(depth) + ']'.repeat(depth)) };
    }
    case 6: {
      const depth = rng.pick([1_000, 100_000]);
      return { detail: `an object nested ${depth} deep`, bytes: utf8('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)) };
    }
    default:
      return { detail: 'invalid UTF-8 in a string', bytes: Uint8Array.from([...utf8('{"model_type": "'), 0xff, 0xfe, 0xc0, ...utf8('"}')]) };
  }
}

/** Sets `value` at `path` (creating objects on the way; `undefined` deletes). */
function setPath(json: Json, path: readonly string[], value: unknown): void {
  let at: Record<string, unknown> = json;
  for (const key of path.slice(0, -1)) {
    const next = at[key];
    if (typeof next !== 'object' || next === null) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1]!;
  if (value === undefined) delete at[last];
  else at[last] = value;
}

const describe = (value: unknown): string => {
  if (value === undefined) return 'deleted';
  const t = stringify(value);
  return t.length > 60 ? `${t.slice(0, 57)}…` : t;
};

/** A config.json with 1–3 keys set to a wrong or mismatched value, or deleted. */
function configPatch(rng: Rng, json: Json): string {
  const coherent: [string, unknown[]][] = [
    ['head_dim', [16, 64, 31, 33, 1, 1e6, undefined]],
    ['num_key_value_heads', [1, 3, 4, 6, 12, undefined]],
    ['num_attention_heads', [3, 4, 12, 5, 1024, undefined]],
    ['num_hidden_layers', [1, 3, 5, 1000, 1e9]],
    ['vocab_size', [1, 2, 512, 1023, 1025, 2048, 2 ** 31, undefined]],
    ['max_position_embeddings', [1, 2, 3, 4, 1e15, undefined]],
    ['hidden_size', [190, 191, 384, 1, undefined]],
    ['rope_scaling', [{ type: 'dynamic', factor: 2 }, { rope_type: 'linear', factor: -1 }, { rope_type: 'linear', factor: 'x' }, 'linear', 5, [], { rope_type: 'yarn' }]],
    ['partial_rotary_factor', [0, 0.5, 2, -1, 'x', 1e308, 0.3]],
    ['rope_theta', [0, -1, 'x', 1e308, raw('1e400')]],
    ['model_type', ['gpt2', 'bert', 'LLAMA', '', 5, undefined, 'phi']],
    ['eos_token_id', [[], [2, 2], 1023, 1024, -1, [2, '2'], 0, 1]],
    ['bos_token_id', [1024, -1, 1e20, '1']],
    ['pad_token_id', [1024, -1, 0.5, [0]]],
    ['n_head', [6, 7, -6]],
    ['n_embd', [192, 7]],
    ['multi_query_group_num', [2, 5, 0]],
  ];
  const keys = Object.keys(json).concat(['n_layer', 'n_positions', 'seq_length', 'sliding_window']);
  const changes: string[] = [];
  for (let n = rng.between(1, 3); n > 0; n--) {
    let key: string;
    let value: unknown;
    if (rng.next() < 0.55) {
      const [k, values] = rng.pick(coherent);
      key = k;
      value = rng.pick(values);
    } else {
      key = rng.pick(keys);
      value = rng.next() < 0.15 ? undefined : rng.pick(WEIRD);
    }
    setPath(json, [key], value);
    changes.push(`${key}: ${describe(value)}`);
  }
  return changes.join('; ');
}

function generationConfigPatch(rng: Rng, json: Json): string {
  const pools: [string, unknown[]][] = [
    ['eos_token_id', [[], [2, 2], [1023], [1024], [-1], [2, '2'], Array(10_000).fill(2), Array.from({ length: 1024 }, (_, i) => i), [0], [1], 0, 1, 1023, 1e20, [[2]], { id: 2 }]],
    ['bos_token_id', [1024, -5, '1', 1.5]],
    ['pad_token_id', [1024, -5, 'x', 1e9]],
    ['max_length', [0, -1, 1, 1e20, 'x']],
    ['max_new_tokens', [0, -1, 1e20, 'x']],
    ['do_sample', [true, 'yes', 1, null]],
    ['temperature', [0, -1, 1e-30, 1e308, 'hot', raw('1e400')]],
    ['top_k', [0, -1, 1e20, 0.5, null, 1]],
    ['top_p', [0, -0.1, 1.5, 1e-30, 'x']],
    ['min_p', [0, 1, 2, -1]],
    ['repetition_penalty', [0, -1, 1e-30, 1e308]],
    ['num_beams', [4, 0]],
  ];
  const changes: string[] = [];
  for (let n = rng.between(1, 3); n > 0; n--) {
    const [key, values] = rng.pick(pools);
    const value = rng.next() < 0.2 ? rng.pick(WEIRD) : rng.pick(values);
    setPath(json, [key], value);
    if (key !== 'do_sample' && rng.next() < 0.5) setPath(json, ['do_sample'], true);
    changes.push(`${key}: ${describe(value)}`);
  }
  return changes.join('; ');
}

function tokenizerPatch(rng: Rng, json: Json): string {
  const model = json['model'] as Json;
  const vocab = model['vocab'] as Record<string, number>;
  const tokens = Object.keys(vocab);
  const component = (): unknown =>
    rng.pick([
      { type: 'Nope' },
      5,
      [],
      {},
      null,
      { type: 'Sequence', pretokenizers: 'x' },
      { type: 'Sequence', normalizers: [{ type: 'Sequence', normalizers: 5 }] },
      { type: 'Replace', pattern: { Regex: '(' }, content: '' },
      { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false },
      { type: 'Split', pattern: 5, behavior: 'Nope' },
      { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|nope|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: {} },
      { type: 'TemplateProcessing', single: 'x' },
      { type: 'ByteLevel', add_prefix_space: 'yes' },
      { type: 'Metaspace', replacement: '', prepend_scheme: 'nope' },
    ]);
  const patches: [string, () => unknown][] = [
    ['model.type', () => rng.pick(['Unknown', 'Unigram', 'WordPiece', 'WordLevel', 5, null])],
    ['model.vocab', () => rng.pick([[], {}, null, 'x', [['a', 1]], { a: 1e9 }, { a: -1 }, { a: 0.5 }, { a: '3' }, { a: 0, b: 0 }])],
    ['model.merges', () => rng.pick([[], null, 'a b', [[1, 2]], ['a'], ['a b c'], [5], ['zz qq'], [['Ġ', 't', 'x']], {}])],
    ['model.unk_token', () => rng.pick(['<|nope|>', 5, ''])],
    ['model.byte_fallback', () => rng.pick(['yes', 5, true])],
    ['model.dropout', () => rng.pick([5, -1, 'x', 1, 0.5])],
    ['model.continuing_subword_prefix', () => rng.pick([5, '', '##'])],
    ['model.end_of_word_suffix', () => rng.pick([5, '</w>'])],
    ['model.ignore_merges', () => rng.pick(['x', true])],
    ['model', () => rng.pick([undefined, null, 5, [], { type: 'BPE' }])],
    [`model.vocab.${JSON.stringify(rng.pick(tokens))}`, () => rng.pick([1e9, -5, 1.5, '3', 1024, 2 ** 31, null, 0, 2 ** 53 + 1])],
    ['added_tokens', () => rng.pick([null, {}, [], [{ id: 1e9, content: 'x' }], [{ id: 3, content: 5 }], [{ id: -1, content: 'x' }], [{ id: 5000, content: '<|far|>', special: true }], [{ id: 1, content: '' }], [{ id: 2, content: '<|bos|>' }], [5], [{ id: 7 }]])],
    ['normalizer', component],
    ['pre_tokenizer', component],
    ['decoder', component],
    ['post_processor', component],
    ['truncation', () => rng.pick([{ max_length: -1 }, { max_length: 0, strategy: 'LongestFirst', stride: 0, direction: 'Right' }, 5, { max_length: 1e20 }])],
    ['padding', () => rng.pick([{ strategy: 'BatchLongest', pad_id: 1e9 }, 5, { strategy: { Fixed: 1e9 }, pad_id: 0, pad_type_id: 0, pad_token: '<|pad|>', direction: 'Left' }])],
    ['version', () => rng.pick(['2.0', 5, null])],
  ];
  const changes: string[] = [];
  for (let n = rng.between(1, 2); n > 0; n--) {
    const [path, value] = rng.pick(patches);
    const v = value();
    setPath(json, path.startsWith('model.vocab.') ? ['model', 'vocab', JSON.parse(path.slice('model.vocab.'.length)) as string] : path.split('.'), v);
    changes.push(`${path}: ${describe(v)}`);
  }
  return changes.join('; ');
}

const TEMPLATES: readonly string[] = [
  '{% for %}',
  '{{ raise_exception("fuzz") }}',
  '{% for i in range(100000000) %}x{% endfor %}',
  '{% for m in messages %}{{ m.content * 100000000 }}{% endfor %}',
  '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}',
  '',
  '{{ messages }}',
  '{{ bos_token }}{% for m in messages %}{{ m["role"] | upper }}{% endfor %}',
  '{{ x.y.z() }}',
  '{% set s = "ab" %}{% for i in range(40) %}{% set s = s + s %}{% endfor %}{{ s }}',
  '{{ "\u0000\uffff\ud800" }}',
  '{%- if true -%}{{ messages[99].content }}{%- endif -%}',
];

function tokenizerConfigPatch(rng: Rng, json: Json): string {
  const special = (): unknown => rng.pick([5, { content: '<|bos|>' }, { content: 5 }, '<|nope|>', '', null, [], { content: '<|eos|>', lstrip: 'x' }]);
  const patches: [string, () => unknown][] = [
    ['chat_template', () => rng.pick<unknown>([5, [], [{ name: 'default', template: 5 }], [{ name: 'x', template: '{{ 1 }}' }], { default: 'x' }, ...TEMPLATES])],
    ['add_bos_token', () => rng.pick(['yes', 1, null, true, false])],
    ['add_eos_token', () => rng.pick([true, 'no', 0])],
    ['bos_token', special],
    ['eos_token', special],
    ['pad_token', special],
    ['unk_token', special],
    ['model_max_length', () => rng.pick([-1, 0, 1, 1e30, 'x'])],
    ['clean_up_tokenization_spaces', () => rng.pick(['yes', 5, true])],
    ['tokenizer_class', () => rng.pick([5, 'LlamaTokenizer', 'GPT2Tokenizer', null])],
    ['added_tokens_decoder', () => rng.pick([5, { '1': { content: 5 } }, { x: {} }, { '5000': { content: '<|far|>', special: true } }])],
  ];
  const changes: string[] = [];
  for (let n = rng.between(1, 2); n > 0; n--) {
    const [key, value] = rng.pick(patches);
    const v = value();
    setPath(json, [key], v);
    changes.push(`${key}: ${describe(v)}`);
  }
  return changes.join('; ');
}

// ---------------------------------------------------------------------------------------------

const JSON_FILES: Record<string, (rng: Rng, json: Json) => string> = {
  'config.json': configPatch,
  'generation_config.json': generationConfigPatch,
  'tokenizer.json': tokenizerPatch,
  'tokenizer_config.json': tokenizerConfigPatch,
};

/** The families and their weights: graphs most, as the native parser is where crashes live. */
const FAMILIES: readonly [string, number][] = [
  ['onnx', 45],
  ['config.json', 14],
  ['generation_config.json', 8],
  ['tokenizer.json', 13],
  ['tokenizer_config.json', 10],
  ['files', 10],
];

/** The mutation seed `seed` makes of the folder `base`. */
export function mutate(seed: number, base: ModelFiles): Mutation {
  const rng = new Rng(seed);
  const total = FAMILIES.reduce((a, [, w]) => a + w, 0);
  let roll = rng.next() * total;
  const family = FAMILIES.find(([, w]) => (roll -= w) < 0)?.[0] ?? 'onnx';
  if (family === 'onnx') {
    const name = rng.pick(Object.keys(graphMutations));
    const { detail, bytes: out } = graphMutations[name]!(rng, viewGraph(base[GRAPH]!));
    return { kind: `onnx.${name}`, detail, file: GRAPH, overrides: { [GRAPH]: bytes(out) } };
  }
  if (family === 'files') return fileMutation(rng, base);
  const file = family;
  const source = base[file]!;
  if (rng.next() < 0.25) {
    const { detail, bytes: out } = damageText(rng, source);
    return { kind: `${file}.damage`, detail, file, overrides: { [file]: bytes(out) }, chat: file === 'tokenizer_config.json' };
  }
  const json = JSON.parse(new TextDecoder().decode(source)) as Json;
  const detail = JSON_FILES[file]!(rng, json);
  return { kind: `${file}.patch`, detail, file, overrides: { [file]: bytes(utf8(stringify(json))) }, chat: file === 'tokenizer_config.json' };
}

function fileMutation(rng: Rng, base: ModelFiles): Mutation {
  const file = rng.pick([...Object.keys(base), 'chat_template.jinja']);
  const choice = rng.int(6);
  if (file === 'chat_template.jinja') {
    const template = rng.pick([...TEMPLATES, '\u0000\u0001binary']);
    return { kind: 'files.chat-template', detail: `chat_template.jinja holds ${JSON.stringify(template)}`, file, overrides: { [file]: bytes(utf8(template)) }, chat: true };
  }
  switch (choice) {
    case 0:
      return { kind: 'files.missing', detail: `${file} removed`, file, overrides: { [file]: { kind: 'missing' } } };
    case 1:
      return { kind: 'files.directory', detail: `${file} is a directory`, file, overrides: { [file]: { kind: 'directory' } } };
    case 2:
      return { kind: 'files.dangling-link', detail: `${file} is a link to a missing file`, file, overrides: { [file]: { kind: 'link', target: 'nowhere/missing' } } };
    case 3: {
      const target = rng.pick(['/dev/zero', '/dev/urandom', '/dev/null']);
      return { kind: 'files.device', detail: `${file} is a link to ${target}`, file, overrides: { [file]: { kind: 'link', target } } };
    }
    case 4:
      return { kind: 'files.fifo', detail: `${file} is a named pipe nobody writes to`, file, overrides: { [file]: { kind: 'fifo' } } };
    default: {
      // Two files swapped: JSON where the graph should be, a graph where JSON should be.
      const other = rng.pick(Object.keys(base).filter((f) => f !== file));
      return { kind: 'files.swapped', detail: `${file} holds ${other}'s content`, file, overrides: { [file]: bytes(base[other]!) } };
    }
  }
}
