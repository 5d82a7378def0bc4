import { ModelLoadError } from '../errors/model-load-error.js';
import type { InferenceSession, ValueInfo } from '../spec/backend.js';
import type { ModelConfig } from './model-config.js';

/** What Weft puts in (or reads from) one dim of a graph input or output. */
type Dim =
  /** One row per prompt of the request (1 in `evaluate`). */
  | { readonly role: 'batch' }
  /** A token count that changes from step to step, as named in messages. */
  | { readonly role: 'length'; readonly term: Length }
  /** A size the config fixes: key/value heads or head size. */
  | { readonly role: 'config'; readonly size: 'heads' | 'headDim'; readonly value: number }
  /** Not checked (an output's batch and length: see {@link checkDeclaredDims}). */
  | { readonly role: 'free' };

/** The token counts Weft's lengths are made of: fed this step, cached before it, both. */
type Length = 'sequence' | 'past' | 'past + sequence';

/** A graph input Weft feeds, or an output it reads, and the dims it has there. */
interface Expected {
  readonly name: string;
  readonly output: boolean;
  /** How Weft feeds or reads it, as a shape, e.g. `[batch, sequence]`. */
  readonly shape: string;
  readonly dims: readonly Dim[];
  /** A past input or present output (one of the cache's tensors). */
  readonly cache: boolean;
}

/** What the declared dims say beyond the checks: the input that fixes the batch at 1, if any. */
export interface DeclaredDims {
  /** A graph input whose batch dim is the number 1 (a static batch-1 export). */
  readonly batchOfOne: string | undefined;
}

const BATCH: Dim = { role: 'batch' };
const length = (term: Length): Dim => ({ role: 'length', term });
const FREE: Dim = { role: 'free' };

/** What to do about a graph exported with fixed sizes where Weft's change. */
const reExport = (axes: string): string =>
  `re-export it with dynamic ${axes} axes (e.g. optimum-cli export onnx --task text-generation-with-past, or torch.onnx.export ` +
  `with dynamic_axes / dynamic_shapes), or pick another graph with onnxFile`;

/**
 * Checks the dims the graph declares for the inputs Weft feeds against what it feeds:
 * `input_ids` / `position_ids` `[batch, sequence]`, `attention_mask` `[batch, past + sequence]`,
 * `past_key_values.*` `[batch, kvHeads, past, headDim]`, and the heads and head size of
 * `present.*`. Outputs' other dims are not checked: onnxruntime enforces only the inputs' dims (an
 * output's that contradict a run are a warning, and it reports an output's dims from its own shape
 * inference where the declared ones contradict it), so a graph whose declared output batch or
 * length is wrong still runs; what a run returns is checked as it is read. Only fixed
 * dims are checked: symbolic dims (strings, `''` where the graph names none), negative numbers
 * and shapes the runtime does not report take anything. Refused, with a `ModelLoadError` naming
 * the graph, the input or output, its declared shape, what Weft feeds and what to do: another
 * rank; a fixed batch other than 1 (a batch of 1 loads: see {@link DeclaredDims.batchOfOne}); a
 * fixed sequence or cache length (static-shape and static-cache exports: Weft's lengths change
 * every step); heads or head size other than config.json's.
 */
export function checkDeclaredDims(
  session: InferenceSession,
  config: ModelConfig,
  graphPath: string,
  io: { readonly pastNames: readonly string[]; readonly presentNames: readonly string[] },
): DeclaredDims {
  const { numKvHeads: heads, headDim } = config;
  const varies: Record<Length, string> = {
    sequence:
      io.pastNames.length > 0
        ? "the tokens fed at a step: the prompt's length at the first, then 1; evaluate feeds its chunks"
        : 'every token so far: this graph has no past inputs, so each step feeds the whole sequence again',
    past: 'the tokens cached so far: 0 at the first step, then one more at each step',
    'past + sequence': "every token so far: the prompt's length at the first step, then one more at each step",
  };
  const ids = (name: string): Expected => ({ name, output: false, shape: '[batch, sequence]', dims: [BATCH, length('sequence')], cache: false });
  const cacheDims = (term: Length): readonly Dim[] => [
    BATCH,
    { role: 'config', size: 'heads', value: heads },
    length(term),
    { role: 'config', size: 'headDim', value: headDim },
  ];
  const expected: Expected[] = [
    ids('input_ids'),
    ids('position_ids'),
    { name: 'attention_mask', output: false, shape: '[batch, past + sequence]', dims: [BATCH, length('past + sequence')], cache: false },
    ...io.pastNames.map((name): Expected => ({ name, output: false, shape: `[batch, ${heads}, past, ${headDim}]`, dims: cacheDims('past'), cache: true })),
    // Outputs: heads and head size only. A graph whose past inputs leave them symbolic shows a
    // config.json that is not its own here (onnxruntime infers the computed sizes).
    ...io.presentNames.map((name): Expected => ({
      name,
      output: true,
      shape: `[batch, ${heads}, past + sequence, ${headDim}]`,
      dims: [FREE, { role: 'config', size: 'heads', value: heads }, FREE, { role: 'config', size: 'headDim', value: headDim }],
      cache: true,
    })),
  ];
  let batchOfOne: string | undefined;
  for (const want of expected) {
    const shape = declaredShape(session, want);
    if (shape === undefined) continue;
    const where = `${graphPath} declares ${want.output ? 'output' : 'input'} "${want.name}" with shape ${showShape(shape)}`;
    const how = `Weft ${want.output ? 'reads' : 'feeds'} it as ${want.shape}`;
    if (shape.length !== want.dims.length) {
      throw new ModelLoadError(
        `${where} (${shape.length} dims), but ${how} (${want.dims.length} dims): use a decoder exported in the Hugging Face layout ` +
          `(e.g. optimum-cli export onnx --task text-generation-with-past), or pick another graph with onnxFile.`,
        { path: graphPath },
      );
    }
    for (let i = 0; i < shape.length; i++) {
      const declared = fixed(shape[i]);
      const dim = want.dims[i]!;
      if (declared === undefined || dim.role === 'free') continue;
      if (dim.role === 'batch') {
        if (declared === 1) {
          batchOfOne ??= want.name;
          continue;
        }
        throw new ModelLoadError(
          `${where}: a fixed batch size of ${declared}, but ${how}, with one batch row per prompt of a request (1 for a single prompt and in evaluate). ` +
            `The graph was exported with a static batch size: ${reExport('batch')} (a graph whose batch is fixed at 1 loads too, and takes one prompt per request).`,
          { path: graphPath },
        );
      }
      if (dim.role === 'length') {
        const exported = want.cache
          ? 'The graph was exported with a static KV cache (a fixed cache length); it must have a dynamic axis for the cached tokens'
          : 'The graph was exported with a static sequence length; it must have dynamic axes for the sequence';
        throw new ModelLoadError(
          `${where}: a fixed ${want.cache ? 'cache' : 'sequence'} length of ${declared} (dim ${i}), but ${how}, where ${dim.term} changes from step to step ` +
            `(${varies[dim.term]}). ${exported}: ${reExport(want.cache ? 'past and total sequence' : 'sequence')}.`,
          { path: graphPath },
        );
      }
      if (declared === dim.value) continue;
      // Every past input and present output declaring the same other size: config.json is the odd
      // one out. Some disagreeing with the others: the graph itself is inconsistent.
      const others = new Set(expected.filter((e) => e.cache).map((e) => fixed(declaredShape(session, e)?.[i])));
      others.delete(undefined);
      others.delete(declared);
      const fix =
        others.size > 0
          ? `the graph's other past/present tensors declare ${[...others].join(', ')}, so the graph disagrees with itself: re-export it, or use an unmodified copy`
          : `set ${dim.size === 'heads' ? 'num_key_value_heads' : 'head_dim'} in config.json to the graph's, or use the graph exported with this config`;
      const said =
        dim.size === 'heads' ? `caches ${declared} key/value heads but config.json says ${dim.value}` : `caches head size ${declared} but config.json implies ${dim.value}`;
      throw new ModelLoadError(`${graphPath} ${said} ("${want.name}" is declared ${showShape(shape)}, and ${how}): ${fix}.`, { path: graphPath });
    }
  }
  return { batchOfOne };
}

/** A dim's fixed size, or undefined where it takes any (symbolic, unnamed, negative). */
function fixed(dim: number | string | undefined): number | undefined {
  return typeof dim === 'number' && dim >= 0 ? dim : undefined;
}

/** The shape the graph declares for `want`, where the runtime reports one. */
function declaredShape(session: InferenceSession, want: Expected): ValueInfo['shape'] {
  return (want.output ? session.outputMetadata : session.inputMetadata).find((m) => m.name === want.name)?.shape;
}

/** A declared shape as written in messages; unnamed symbolic dims as `?`. */
function showShape(shape: readonly (number | string)[]): string {
  return `[${shape.map((d) => (d === '' ? '?' : String(d))).join(', ')}]`;
}
