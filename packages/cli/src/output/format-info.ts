import type { EntryFacts, GenerationDefaults, ModelFacts, ModelInfo, RegistryFacts, TokenFact, TokenizerFacts, BackendFacts } from '../info/model-info.js';
import { bytes } from './format.js';
import { groupIndexedNames } from './group-names.js';

/** Column where values start, after a two-space indent and a padded label. */
const VALUE_COLUMN = 22;
/** Lines are wrapped at spaces to this width (a single longer word, such as a path, is kept whole). */
const WIDTH = 100;

/** The flag that names an entry of each kind in a request, where one does. */
const KIND_FLAGS: Readonly<Record<string, string>> = {
  backend: '--backend',
  'kv-cache': '--kv',
  'attention-router': '--router',
  'logits-processor': '--processor',
  sampler: '--sampler',
  analyzer: '--analyzer',
};

/** `weft info`'s text output: one section per part of {@link ModelInfo}, values lined up in one column. */
export function formatInfo(info: ModelInfo): string {
  const sections = [
    ['model', modelLines(info.model)],
    ['tokenizer', tokenizerLines(info.tokenizer)],
    ['generation defaults (generation_config.json)', generationLines(info.generation)],
    ['backend', backendLines(info.backend)],
    ['registry (what --backend, --kv, --router, --processor, --sampler and --analyzer can name)', registryLines(info.registry)],
  ] as const;
  return `${sections.map(([title, lines]) => [title, ...lines].join('\n')).join('\n\n')}\n`;
}

function modelLines(m: ModelFacts): string[] {
  return [
    ...field('folder', m.location),
    ...field('graph', m.graphFile),
    ...field('external data', m.externalData === null ? (/^https?:\/\//i.test(m.location) ? 'not checked (URL folder)' : 'not read (the graph could not be read again)') : m.externalData.length === 0 ? 'none' : m.externalData.join(', ')),
    ...field('type', m.modelType),
    ...field('layers', String(m.layers)),
    ...field('heads', headsText(m)),
    ...field('head_dim', String(m.headDim)),
    ...field('hidden size', String(m.hiddenSize)),
    ...field('vocabulary', String(m.vocabSize)),
    ...field('max positions', String(m.maxPositions)),
    ...field('positions', m.positionIds ? 'position_ids input, fed by Weft' : 'no position_ids input: the graph derives positions itself'),
    ...(m.attentionMask ? [] : field('attention mask', 'no attention_mask input')),
    ...field('kv cache', kvCacheText(m)),
    ...field('attentions', m.attentionOutputs > 0 ? `${m.attentionOutputs} attention-probability outputs (for routers such as heavy-hitter)` : 'not exported'),
    ...field('rope', ropeText(m)),
    ...(m.mergedDecoder ? field('merged decoder', 'use_cache_branch input (Optimum merged export), fed by Weft') : []),
    ...(m.logitsToKeep === null ? [] : field('logits to keep', `${m.logitsToKeep} input: generation asks for the last position only`)),
    ...idTypeLines(m.inputTypes),
    ...(m.logitsType === 'float16' ? field('logits', 'float16 (each row read is converted to float32)') : []),
  ];
}

/** A line only when the graph takes an id input as int32 (int64 is the rule). */
function idTypeLines(types: ModelFacts['inputTypes']): string[] {
  const int32 = Object.entries({ input_ids: types.inputIds, attention_mask: types.attentionMask, position_ids: types.positionIds })
    .filter(([, type]) => type === 'int32')
    .map(([name]) => name);
  return int32.length === 0 ? [] : field('int32 inputs', `${int32.join(', ')}: fed as int32`);
}

function headsText(m: ModelFacts): string {
  const group = m.attentionHeads / m.kvHeads;
  const kind = m.kvHeads === m.attentionHeads ? 'multi-head' : m.kvHeads === 1 ? 'multi-query' : `grouped-query, ${group} per key/value head`;
  return `${m.attentionHeads} attention, ${m.kvHeads} key/value (${kind})`;
}

function kvCacheText(m: ModelFacts): string {
  if (!m.kvCache) return 'none: the graph has no past_key_values inputs, so each step recomputes the whole sequence';
  return `past_key_values inputs (${m.kvCacheType}): ${bytes(m.kvBytesPerToken ?? 0)} per cached token at float32`;
}

function ropeText(m: ModelFacts): string {
  if (m.rope !== null) return `theta ${m.rope.theta}, ${m.rope.rotaryDim} rotary dims${m.rope.scale === 1 ? '' : `, linear scaling ${m.rope.scale}`}`;
  if (m.ropeUnsupported !== null) return `${m.ropeUnsupported}: Weft cannot re-rotate its cached keys (no positions=cache routers)`;
  return 'none';
}

function tokenizerLines(t: TokenizerFacts): string[] {
  const added = [t.addedBefore.length > 0 ? `${tokens(t.addedBefore)} before the text` : 'nothing before the text', t.addedAfter.length > 0 ? `${tokens(t.addedAfter)} after it` : 'nothing after it'];
  return [
    ...field('entry', t.name ?? 'unknown'),
    ...field('vocabulary', String(t.vocabSize)),
    ...field('bos', t.bos === null ? 'none' : `${token(t.bos)} (${t.addsBos ? 'added to every encoded prompt' : 'not added when encoding'})`),
    ...field('eos', t.eos.length === 0 ? 'none (generation stops at --max-tokens or the context)' : tokens(t.eos)),
    ...field('pad', t.padFallback ? `${token(t.pad)} (the model names none in its vocabulary; ${t.eos.length > 0 ? 'the first eos' : 'id 0'} pads batch rows)` : token(t.pad)),
    ...field('encoding adds', added.join(', ')),
    ...field('chat template', chatTemplateText(t)),
  ];
}

function chatTemplateText(t: TokenizerFacts): string {
  if (t.chatTemplate === null) return 'unknown (the tokenizer failed to render a probe conversation)';
  if (!t.chatTemplate) return t.chatTemplateRefusal === null ? 'none (--messages is refused; use --prompt)' : `unusable (--messages is refused; use --prompt): ${t.chatTemplateRefusal}`;
  const present = t.chatTemplateAddsBos ? 'yes (it writes the BOS itself)' : 'yes';
  return t.chatTemplateRefusal === null ? present : `${present}, but it refuses a one-message user chat: ${t.chatTemplateRefusal}`;
}

function token(t: TokenFact): string {
  return `${t.id} ${JSON.stringify(t.text)}`;
}

function tokens(list: readonly TokenFact[]): string {
  return list.map(token).join(', ');
}

function generationLines(g: GenerationDefaults): string[] {
  const value = (v: number | null, unset = 'not set') => (v === null ? unset : String(v));
  return [
    // As core resolves it: do_sample with the file's temperature (else 1); a temperature of 0 is greedy.
    ...field('do_sample', `${g.doSample}: a request without --temperature ${g.doSample && (g.temperature ?? 1) > 0 ? `samples at temperature ${g.temperature ?? 1}` : 'is greedy'}`),
    ...field('temperature', value(g.temperature)),
    ...field('top_k', value(g.topK, 'not set (50 when sampling)')),
    ...field('top_p', value(g.topP)),
    ...field('min_p', value(g.minP)),
    ...field('repetition_penalty', value(g.repetitionPenalty)),
    ...field('eos_token_id', g.eosTokenIds.length === 0 ? 'none' : g.eosTokenIds.join(', ')),
    // As core resolves a request without --max-tokens: max_new_tokens, else 256 shortened (never
    // lengthened) by max_length; the context caps both.
    ...field('max_new_tokens', g.maxNewTokens === null ? 'not set (256 without --max-tokens)' : `${g.maxNewTokens}: new tokens without --max-tokens`),
    ...field('max_length', g.maxLength === null ? 'not set' : g.maxNewTokens !== null ? `${g.maxLength} (max_new_tokens wins)` : `${g.maxLength}: caps prompt + new tokens without --max-tokens (never past 256 new)`),
    ...field('min_new_tokens', g.minNewTokens === null ? 'not set' : `${g.minNewTokens}: no end-of-sequence id before that many new tokens`),
    ...field('min_length', g.minLength === null ? 'not set' : g.minNewTokens !== null ? `${g.minLength} (min_new_tokens wins)` : `${g.minLength}: no end-of-sequence id before prompt + new tokens reach it`),
    ...field('suppress_tokens', idList(g.suppressTokens)),
    ...field('begin_suppress_tokens', idList(g.beginSuppressTokens)),
    ...field('bad_words_ids', g.badWordsIds.length === 0 ? 'none' : idList(g.badWordsIds.map((words) => `[${words.join(' ')}]`), 'sequences')),
  ];
}

/** Ids (or id sequences) listed in full up to 8, else the first 8 and how many there are. */
function idList(ids: readonly (number | string)[], what = 'ids'): string {
  if (ids.length === 0) return 'none';
  return ids.length <= 8 ? ids.join(', ') : `${ids.length} ${what}: ${ids.slice(0, 8).join(', ')}, …`;
}

function backendLines(b: BackendFacts): string[] {
  return [
    ...field('chosen', b.name),
    ...(b.rejected.length === 0 ? field('passed over', 'none') : b.rejected.flatMap((r, i) => field(i === 0 ? 'passed over' : '', `${r.name}: ${r.reason}`, 2, 2))),
    ...field(`inputs (${b.inputs.length})`, groupIndexedNames(b.inputs).join(', ')),
    ...field(`outputs (${b.outputs.length})`, groupIndexedNames(b.outputs).join(', ')),
  ];
}

function registryLines(r: RegistryFacts): string[] {
  const { defaults } = r;
  const router = defaults.attentionRouter ?? 'none (every token kept)';
  const kinds = Object.entries(r.kinds);
  const empty = kinds.filter(([, entries]) => entries.length === 0).map(([kind]) => kindLabel(kind));
  return [
    ...field('defaults', `kv store ${defaults.kvCache}, attention router ${router}, tokenizer ${defaults.tokenizer ?? 'none'}`),
    ...kinds.filter(([, entries]) => entries.length > 0).flatMap(([kind, entries]) => [`  ${kindLabel(kind)}`, ...entries.flatMap(entryLines)]),
    ...(empty.length === 0 ? [] : field('none registered', empty.join(', '))),
    ...field('hooks', r.hooks.length === 0 ? 'none' : r.hooks.map((h) => `${h.owner}: ${[...h.hooks, ...h.feeds.map((f) => `feeds ${f}`)].join(', ')}`).join('; ')),
  ];
}

function kindLabel(kind: string): string {
  const flag = KIND_FLAGS[kind];
  return flag === undefined ? kind : `${kind} (${flag})`;
}

function entryLines(e: EntryFacts): string[] {
  const origin = [e.owner, ...(e.priority === 0 ? [] : [`priority ${e.priority}`]), ...(e.capabilities.length === 0 ? [] : [`[${e.capabilities.join(', ')}]`])];
  return [...field(e.name, e.description ?? '(no description)', 4), ...field('', origin.join(', '), 4)];
}

/**
 * `label` (after `indent` spaces) padded to the value column, then `value` wrapped to
 * {@link WIDTH}, its continuation lines under it (`hang` columns further in).
 */
function field(label: string, value: string, indent = 2, hang = 0): string[] {
  const head = `${' '.repeat(indent)}${label}`;
  const lines = wrap(value, WIDTH - VALUE_COLUMN, WIDTH - VALUE_COLUMN - hang);
  const under = lines.map((line, i) => ' '.repeat(VALUE_COLUMN + (i === 0 ? 0 : hang)) + line);
  // A label too long for its column gets a line of its own, the value under it.
  if (head.length + 2 > VALUE_COLUMN) return [head, ...under];
  return [head.padEnd(VALUE_COLUMN) + lines[0], ...under.slice(1)];
}

/**
 * `text` split at spaces into lines of at most `width` characters, `rest` for every line after the
 * first (a longer word stays whole).
 */
function wrap(text: string, width: number, rest = width): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > (lines.length === 0 ? width : rest)) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}
