import {
  BUILT_IN_KINDS,
  DEFAULT_CAPABILITY,
  DEFAULT_KV_STORE,
  GENERATION_HOOKS,
  InvalidOptionsError,
  ModelLoadError,
  type AdapterKind,
  type GenerationConfig,
  type RegisteredEntry,
  type Weft,
  type WeftModel,
} from '@weft/core';
import type { BackendFacts, EntryFacts, GenerationDefaults, ModelFacts, ModelInfo, RegistryFacts, TokenFact, TokenizerFacts } from './model-info.js';

/** Text encoded with and without special tokens to see what the tokenizer adds around it. */
const PROBE_TEXT = 'Once upon a time';

/**
 * Everything `weft info` reports about `model`, loaded through `weft`, read from their public
 * API only (config, layout, tokenizer, session names, registry); `externalData` lists the files
 * beside the graph it reads (null where not read). May throw what the model's tokenizer throws (a
 * plugin's `PluginError`).
 */
export function collectInfo(weft: Weft, model: WeftModel, externalData: readonly string[] | null): ModelInfo {
  return {
    model: modelFacts(model, externalData),
    tokenizer: tokenizerFacts(model, highestPriority(weft, 'tokenizer')),
    generation: generationDefaults(model.generationConfig),
    backend: backendFacts(model),
    registry: registryFacts(weft),
  };
}

function modelFacts(model: WeftModel, externalData: readonly string[] | null): ModelFacts {
  const { config, layout } = model;
  const kvCache = layout.hasPast;
  return {
    location: model.path,
    graphFile: model.graphFile,
    externalData,
    modelType: config.modelType,
    layers: config.numLayers,
    attentionHeads: config.numHeads,
    kvHeads: config.numKvHeads,
    headDim: config.headDim,
    hiddenSize: config.hiddenSize,
    vocabSize: config.vocabSize,
    maxPositions: config.maxPositions,
    positionIds: layout.hasPositionIds,
    attentionMask: layout.hasAttentionMask,
    kvCache,
    kvCacheType: kvCache ? (layout.pastType ?? 'float32') : null,
    // Keys and values of every layer at float32 (4 bytes), whatever the graph's cache type.
    kvBytesPerToken: kvCache ? 2 * layout.numLayers * layout.numKvHeads * layout.headDim * 4 : null,
    attentionOutputs: layout.attentionNames.length,
    inputTypes: { inputIds: 'int64', attentionMask: 'int64', positionIds: 'int64', ...layout.inputTypes },
    logitsType: layout.logitsType ?? 'float32',
    mergedDecoder: layout.useCacheBranch !== undefined,
    logitsToKeep: layout.logitsToKeep?.name ?? null,
    rope: config.rope ? { theta: config.rope.theta, rotaryDim: config.rope.rotaryDim, scale: config.rope.ropeScale } : null,
    ropeUnsupported: config.ropeUnsupported ?? null,
  };
}

function tokenizerFacts(model: WeftModel, name: string | null): TokenizerFacts {
  const { tokenizer, generationConfig: g } = model;
  const token = (id: number): TokenFact => ({ id, text: tokenizer.decode([id], { skipSpecialTokens: false }) });
  const { before, after } = addedSpecials(tokenizer.encode(PROBE_TEXT), tokenizer.encode(PROBE_TEXT, { addSpecialTokens: false }));
  return {
    name,
    vocabSize: tokenizer.vocabSize,
    bos: g.bosTokenId === undefined ? null : token(g.bosTokenId),
    eos: g.eosTokenIds.map(token),
    pad: token(g.padTokenId),
    padFallback: g.padTokenIdFallback,
    addsBos: g.bosTokenId !== undefined && before[0] === g.bosTokenId,
    addedBefore: before.map(token),
    addedAfter: after.map(token),
    ...chatTemplateFacts(model),
    chatTemplateAddsBos: tokenizer.chatTemplateAddsBos,
  };
}

/**
 * The ids encoding with special tokens puts before and after the plain encoding (`withSpecials`
 * holds `plain` somewhere inside); when it does not, everything before the first difference.
 */
function addedSpecials(withSpecials: readonly number[], plain: readonly number[]): { before: number[]; after: number[] } {
  for (let start = 0; start + plain.length <= withSpecials.length; start++) {
    if (plain.every((id, i) => withSpecials[start + i] === id)) {
      return { before: withSpecials.slice(0, start), after: withSpecials.slice(start + plain.length) };
    }
  }
  const differs = withSpecials.findIndex((id, i) => plain[i] !== id);
  return { before: withSpecials.slice(0, Math.max(differs, 0)), after: [] };
}

/**
 * Whether the tokenizer has a chat template Weft uses: it renders a one-message conversation, or
 * refuses it for a reason of the template's own (an error with a cause, kept as the refusal); an
 * `InvalidOptionsError` without one says there is none, and one caused by a `ModelLoadError`
 * that the model's template is unusable (it does not parse: kept as the refusal). Null for any
 * other failure.
 */
function chatTemplateFacts(model: WeftModel): Pick<TokenizerFacts, 'chatTemplate' | 'chatTemplateRefusal'> {
  try {
    model.tokenizer.applyChatTemplate([{ role: 'user', content: PROBE_TEXT }]);
    return { chatTemplate: true, chatTemplateRefusal: null };
  } catch (error) {
    if (!InvalidOptionsError.isInstance(error)) return { chatTemplate: null, chatTemplateRefusal: null };
    if (ModelLoadError.isInstance(error.cause)) return { chatTemplate: false, chatTemplateRefusal: error.cause.message };
    const present = error.cause !== undefined;
    return { chatTemplate: present, chatTemplateRefusal: present ? error.message : null };
  }
}

function generationDefaults(g: GenerationConfig): GenerationDefaults {
  return {
    doSample: g.doSample,
    temperature: g.temperature ?? null,
    topK: g.topK ?? null,
    topP: g.topP ?? null,
    minP: g.minP ?? null,
    repetitionPenalty: g.repetitionPenalty ?? null,
    eosTokenIds: g.eosTokenIds,
    maxNewTokens: g.maxNewTokens ?? null,
    maxLength: g.maxLength ?? null,
    minNewTokens: g.minNewTokens ?? null,
    minLength: g.minLength ?? null,
    suppressTokens: g.suppressTokens,
    beginSuppressTokens: g.beginSuppressTokens,
    badWordsIds: g.badWordsIds,
  };
}

function backendFacts(model: WeftModel): BackendFacts {
  return {
    name: model.backend,
    rejected: model.rejectedBackends.map(({ name, reason }) => ({ name, reason })),
    inputs: [...model.session.inputNames],
    outputs: [...model.session.outputNames],
  };
}

function registryFacts(weft: Weft): RegistryFacts {
  // Kinds plugins declared too, where the registry can list them.
  const known = weft.registry.kinds?.() ?? BUILT_IN_KINDS;
  const kinds = Object.fromEntries(known.map((kind) => [kind, weft.registry.list(kind as AdapterKind).map(entryFacts)]));
  const marked = (kind: AdapterKind) => weft.registry.list(kind).find((e) => (e.capabilities ?? []).includes(DEFAULT_CAPABILITY))?.name;
  const hooks = weft.get(GENERATION_HOOKS).map(({ owner, hooks: set }) => ({
    owner,
    hooks: Object.keys(set).filter((key) => typeof (set as Record<string, unknown>)[key] === 'function'),
    feeds: [...(set.feeds ?? [])],
  }));
  return {
    defaults: { kvCache: marked('kv-cache') ?? DEFAULT_KV_STORE, attentionRouter: marked('attention-router') ?? null, tokenizer: highestPriority(weft, 'tokenizer') },
    kinds,
    hooks,
  };
}

function entryFacts(entry: RegisteredEntry): EntryFacts {
  return { name: entry.name, owner: entry.owner, priority: entry.priority ?? 0, capabilities: [...(entry.capabilities ?? [])], description: entry.description ?? null };
}

/** The entry a load picks when it names none: the first listed (highest priority). */
function highestPriority(weft: Weft, kind: AdapterKind): string | null {
  return weft.registry.list(kind)[0]?.name ?? null;
}
