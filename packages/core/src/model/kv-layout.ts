import { ModelLoadError } from '../errors/model-load-error.js';
import type { InferenceSession } from '../spec/backend.js';
import type { KvLayout } from '../spec/kv-cache.js';
import type { ModelConfig } from './model-config.js';
import { checkDeclaredDims } from './graph-dims.js';

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;
const PRESENT = /^present\.(\d+)\.(key|value)$/;
const ATTENTION = /^attentions\.(\d+)$/;
/** Optimum's merged-decoder switch between the no-cache and with-cache subgraphs. */
const USE_CACHE_BRANCH = 'use_cache_branch';
/**
 * How many final positions the graph computes logits for ([batch, N, vocab]): `num_logits_to_keep`
 * in transformers.js / Optimum exports, `logits_to_keep` in newer ones.
 */
const LOGITS_TO_KEEP: readonly string[] = ['num_logits_to_keep', 'logits_to_keep'];
/** Inputs core feeds by name, besides `past_key_values.{i}.key/value`. */
const FED_INPUTS: ReadonlySet<string> = new Set(['input_ids', 'attention_mask', 'position_ids', USE_CACHE_BRANCH, ...LOGITS_TO_KEEP]);
/** The integer inputs core feeds, and the element types it can feed them as. */
const INT_INPUTS = ['input_ids', 'attention_mask', 'position_ids'] as const;

/**
 * Reads the KV layout from the graph's input/output names and checks it against the config:
 * layer count, key/value heads and head size (from the graph's static dims where it has them, on
 * every past input and present output), and logits of the config's vocabulary size. Checks the
 * dims the graph declares against what Weft feeds and reads (`model/graph-dims.ts`): a fixed
 * sequence or cache length, or a fixed batch other than 1, is refused. Reads the element types
 * the graph declares: int64 or int32 ids/mask/positions, float32 or float16 past/present and
 * logits (anything else is refused here), and a `num_logits_to_keep` / `logits_to_keep` input.
 * Rejects graphs with inputs neither core nor a plugin (`pluginFeeds`, from hooks' `feeds`) feeds,
 * so they fail at load rather than at the first step.
 */
export function readKvLayout(session: InferenceSession, config: ModelConfig, graphPath: string, pluginFeeds: ReadonlySet<string> = new Set()): KvLayout {
  return readGraphIo(session, config, graphPath, pluginFeeds).layout;
}

/** What a load reads from the graph: {@link readKvLayout}'s layout, and what core alone needs. */
export interface GraphIo {
  readonly layout: KvLayout;
  /**
   * An input or output the graph declares with a batch dim of 1 (a static batch-1 export), whose
   * runs then take one prompt at a time; undefined where the batch is not fixed.
   */
  readonly batchOfOne: string | undefined;
}

/** {@link readKvLayout}, with what the graph's declared dims say about the batch. */
export function readGraphIo(session: InferenceSession, config: ModelConfig, graphPath: string, pluginFeeds: ReadonlySet<string> = new Set()): GraphIo {
  const inputs = new Set(session.inputNames);
  if (!inputs.has('input_ids')) {
    throw new ModelLoadError(`${graphPath} has no "input_ids" input (inputs: ${session.inputNames.join(', ')}).`, { path: graphPath });
  }
  if (!session.outputNames.includes('logits')) {
    throw new ModelLoadError(`${graphPath} has no "logits" output.`, { path: graphPath });
  }
  const unfed = session.inputNames.filter((n) => !FED_INPUTS.has(n) && !PAST.test(n) && !pluginFeeds.has(n));
  if (unfed.length > 0) {
    throw new ModelLoadError(
      `${graphPath} has inputs Weft cannot feed: ${unfed.map((n) => `"${n}"`).join(', ')}. Weft feeds input_ids, attention_mask, ` +
        `position_ids, past_key_values.{i}.key/value, use_cache_branch and num_logits_to_keep/logits_to_keep${pluginFeeds.size > 0 ? `, plugins feed ${[...pluginFeeds].join(', ')}` : ''}; ` +
        `add a plugin whose hooks declare and feed the others (hooks.feeds), re-export the decoder without them ` +
        `(e.g. optimum-cli export onnx --task text-generation-with-past) or pick another graph with onnxFile.`,
      { path: graphPath },
    );
  }
  const byLayer = (names: readonly string[], re: RegExp, kind: string): string[] =>
    names.filter((n) => re.exec(n)?.[2] === kind).sort((a, b) => layerOf(a, re) - layerOf(b, re));
  const pastKeyNames = byLayer(session.inputNames, PAST, 'key');
  const pastValueNames = byLayer(session.inputNames, PAST, 'value');
  const presentKeyNames = byLayer(session.outputNames, PRESENT, 'key');
  const presentValueNames = byLayer(session.outputNames, PRESENT, 'value');
  const attentionNames = session.outputNames.filter((n) => ATTENTION.test(n)).sort((a, b) => layerOf(a, ATTENTION) - layerOf(b, ATTENTION));
  const hasPast = pastKeyNames.length > 0;
  if (hasPast) {
    if (pastKeyNames.length !== config.numLayers || pastValueNames.length !== config.numLayers) {
      throw new ModelLoadError(
        `${graphPath} has past inputs for ${pastKeyNames.length} layers but config.json says num_hidden_layers = ${config.numLayers}.`,
        { path: graphPath },
      );
    }
    if (presentKeyNames.length !== config.numLayers || presentValueNames.length !== config.numLayers) {
      throw new ModelLoadError(`${graphPath} has past inputs but not one present.{i}.key/value output per layer.`, { path: graphPath });
    }
  }
  const { batchOfOne } = checkDeclaredDims(session, config, graphPath, {
    pastNames: [...pastKeyNames, ...pastValueNames],
    presentNames: hasPast ? [...presentKeyNames, ...presentValueNames] : [],
  });
  const pastType = hasPast ? cacheType(session, [...pastKeyNames, ...pastValueNames], [...presentKeyNames, ...presentValueNames], graphPath) : 'float32';
  const logitsInfo = session.outputMetadata.find((m) => m.name === 'logits');
  // Sampling reads logits as float32; float16 rows are converted as they are read. Other types
  // would be misread (bfloat16 bits) or throw (int64 BigInts).
  if (logitsInfo?.type !== undefined && logitsInfo.type !== 'float32' && logitsInfo.type !== 'float16') {
    throw new ModelLoadError(
      `${graphPath} declares its "logits" output as ${logitsInfo.type}; Weft reads float32 or float16 logits only: export the graph ` +
        `with float32 logits (e.g. cast them at the end of the graph) or use its fp32 or fp16 variant.`,
      { path: graphPath },
    );
  }
  const logits = logitsInfo?.shape?.[2];
  if (typeof logits === 'number' && logits !== config.vocabSize) {
    throw new ModelLoadError(`${graphPath} outputs ${logits} logits per token but config.json says vocab_size = ${config.vocabSize}.`, { path: graphPath });
  }
  const layout: KvLayout = {
    numLayers: config.numLayers,
    numKvHeads: config.numKvHeads,
    headDim: config.headDim,
    pastKeyNames,
    pastValueNames,
    presentKeyNames: hasPast ? presentKeyNames : [],
    presentValueNames: hasPast ? presentValueNames : [],
    attentionNames,
    hasPast,
    hasPositionIds: inputs.has('position_ids'),
    hasAttentionMask: inputs.has('attention_mask'),
    ...(inputs.has(USE_CACHE_BRANCH) ? { useCacheBranch: { dims: cacheBranchDims(session, graphPath) } } : {}),
    ...logitsToKeepLayout(session, graphPath),
    ...inputTypesLayout(session, graphPath),
    ...(pastType === 'float16' ? { pastType } : {}),
    ...(logitsInfo?.type === 'float16' ? { logitsType: 'float16' as const } : {}),
  };
  return { layout, batchOfOne };
}

/** The `logitsToKeep` entry of a graph with a `num_logits_to_keep` / `logits_to_keep` input. */
function logitsToKeepLayout(session: InferenceSession, graphPath: string): Pick<KvLayout, 'logitsToKeep'> {
  const names = LOGITS_TO_KEEP.filter((n) => session.inputNames.includes(n));
  if (names.length === 0) return {};
  if (names.length > 1) {
    throw new ModelLoadError(`${graphPath} has both "${names[0]}" and "${names[1]}" inputs; Weft feeds one of them, and which the graph reads is ambiguous.`, {
      path: graphPath,
    });
  }
  const name = names[0]!;
  const meta = session.inputMetadata.find((m) => m.name === name);
  const type = meta?.type ?? 'int64';
  if (type !== 'int64' && type !== 'int32') {
    throw new ModelLoadError(`${graphPath} declares "${name}" as ${type}; Weft feeds it a single int64 or int32 (the number of final positions to compute logits for).`, {
      path: graphPath,
    });
  }
  // A scalar in transformers.js and Optimum exports (the runtime reports no shape for one).
  const dims = (meta?.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
  if (dims.reduce((a, b) => a * b, 1) !== 1) {
    throw new ModelLoadError(`${graphPath} declares "${name}" with shape [${meta?.shape?.join(', ')}]; Weft feeds it a single integer.`, { path: graphPath });
  }
  return { logitsToKeep: { name, type, dims } };
}

/** The `inputTypes` entry: set when the graph declares any of the id/mask/position inputs int32. */
function inputTypesLayout(session: InferenceSession, graphPath: string): Pick<KvLayout, 'inputTypes'> {
  const types = INT_INPUTS.map((name) => {
    const type = session.inputMetadata.find((m) => m.name === name)?.type ?? 'int64';
    if (type !== 'int64' && type !== 'int32') {
      throw new ModelLoadError(`${graphPath} declares "${name}" as ${type}; Weft feeds it as int64 or int32 (the types exports use).`, { path: graphPath });
    }
    return type;
  });
  if (types.every((t) => t === 'int64')) return {};
  return { inputTypes: { inputIds: types[0]!, attentionMask: types[1]!, positionIds: types[2]! } };
}

/**
 * The one element type of the graph's past inputs and present outputs: float32, or float16
 * (kept as returned and fed back by the default store). Undeclared types are taken as float32.
 */
function cacheType(session: InferenceSession, pastNames: readonly string[], presentNames: readonly string[], graphPath: string): 'float32' | 'float16' {
  const declared = new Set<string>();
  for (const name of pastNames) declared.add(session.inputMetadata.find((m) => m.name === name)?.type ?? 'float32');
  for (const name of presentNames) declared.add(session.outputMetadata.find((m) => m.name === name)?.type ?? 'float32');
  if (declared.size === 1 && (declared.has('float32') || declared.has('float16'))) return declared.has('float16') ? 'float16' : 'float32';
  throw new ModelLoadError(
    `${graphPath} declares its past_key_values.* / present.* as ${[...declared].join(' and ')}; Weft caches keys and values as float32 or float16, ` +
      `with past inputs of the same type as present outputs: use the model's fp32 or fp16 export (an int8/q4 quantised export whose cache stays float32 also works).`,
    { path: graphPath },
  );
}

/**
 * The dims to feed `use_cache_branch` with: its declared shape (Optimum declares `[1]`), symbolic
 * dims taken as 1; `[1]` when the runtime does not report one. It must hold a single bool.
 */
function cacheBranchDims(session: InferenceSession, graphPath: string): number[] {
  const meta = session.inputMetadata.find((m) => m.name === USE_CACHE_BRANCH);
  if (meta?.type !== undefined && meta.type !== 'bool') {
    throw new ModelLoadError(`${graphPath} declares "${USE_CACHE_BRANCH}" as ${meta.type}; Weft feeds it as a bool (Optimum's merged-decoder layout).`, {
      path: graphPath,
    });
  }
  const dims = (meta?.shape ?? [1]).map((d) => (typeof d === 'number' ? d : 1));
  if (dims.reduce((a, b) => a * b, 1) !== 1) {
    throw new ModelLoadError(`${graphPath} declares "${USE_CACHE_BRANCH}" with shape [${meta?.shape?.join(', ')}]; Weft feeds it a single bool.`, {
      path: graphPath,
    });
  }
  return dims;
}

function layerOf(name: string, re: RegExp): number {
  return Number(re.exec(name)?.[1] ?? 0);
}
