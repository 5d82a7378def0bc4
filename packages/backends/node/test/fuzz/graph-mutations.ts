/** Seeded mutations of an ONNX graph for the load fuzzer: one per name, picked by `mutations.ts`. */
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
import { bytes, flipBytes, raw, Rng, stringify, utf8 } from './mutation-kit.js';

interface GraphView {
  readonly model: Uint8Array;
  readonly graph: Field[];
  /** Offset in the file where the graph's body starts, and of each initializer's raw_data. */
  readonly graphStart: number;
  readonly nodesEnd: number;
  readonly rawData: readonly { start: number; end: number; name: string }[];
}

export function viewGraph(model: Uint8Array): GraphView {
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

export const graphMutations: Record<string, GraphMutation> = {
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
