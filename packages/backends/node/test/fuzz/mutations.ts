/**
 * Seeded corruptions of a model folder for the load fuzzer (`../load-fuzz.test.ts`). `mutate(seed,
 * base)` picks one mutation from the seed alone, so a seed printed by a failing case makes the
 * same folder again. The base folder is read once; a mutation is a set of overrides over it.
 */
import { graphMutations, viewGraph } from './graph-mutations.js';
import { configPatch, damageText, generationConfigPatch, type Json, TEMPLATES, tokenizerConfigPatch, tokenizerPatch } from './json-mutations.js';
import { bytes, GRAPH, type ModelFiles, type Mutation, Rng, stringify, utf8 } from './mutation-kit.js';

export { GRAPH, Rng, type ModelFiles, type Mutation, type Override } from './mutation-kit.js';

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
