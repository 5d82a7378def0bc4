import { Tokenizer as HfTokenizerCore } from '@huggingface/tokenizers';
import { ModelLoadError } from '../errors/model-load-error.js';

/** The files a tokenizer is built from, as messages name them. */
export interface TokenizerPaths {
  /** tokenizer.json */
  readonly path: string;
  /** tokenizer_config.json */
  readonly configPath: string;
}

/** Parts of tokenizer.json the library builds apart from its model; each may be null. */
const PARTS = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const;

/** Text encoded (and decoded) once at load, so a part that fails only on use fails there. */
const PROBE = 'Hello';

/**
 * The library's tokenizer of `json` and `config`; what it throws is a `ModelLoadError` from
 * {@link tokenizerBuildError}.
 */
export function buildTokenizerCore(json: Record<string, unknown>, config: Record<string, unknown>, paths: TokenizerPaths): HfTokenizerCore {
  try {
    return new HfTokenizerCore(json, config);
  } catch (cause) {
    throw tokenizerBuildError(cause, json, config, paths, { probe: false, ownPostProcessor: true });
  }
}

/** The probe word's ids without and with specials, as the library gave them (not checked to be integers). */
export interface ProbeIds {
  readonly bare: readonly unknown[];
  readonly full: readonly unknown[];
}

/** Encodes the probe word without and with specials; throws what the library throws. */
export function encodeProbe(core: HfTokenizerCore): ProbeIds {
  const bare: readonly unknown[] = core.encode(PROBE, { add_special_tokens: false }).ids;
  return { bare, full: core.encode(PROBE).ids };
}

/**
 * Encodes a word with and without specials and decodes it, as every request will: a part of
 * tokenizer.json the library builds but cannot run (e.g. a post_processor of the wrong shape)
 * fails the load here, not each later encode with a library TypeError. `ownPostProcessor` is false
 * where tokenizer_config.json's flags replaced tokenizer.json's post-processor. `encoded`: what
 * {@link encodeProbe} already gave for `core` as it is now, so only the decode is left to run.
 * Returns the two encodings.
 */
export function probeTokenizerCore(
  core: HfTokenizerCore,
  json: Record<string, unknown>,
  config: Record<string, unknown>,
  paths: TokenizerPaths,
  ownPostProcessor: boolean,
  encoded?: ProbeIds,
): ProbeIds {
  try {
    return probe(core, encoded);
  } catch (cause) {
    throw tokenizerBuildError(cause, json, config, paths, { probe: true, ownPostProcessor });
  }
}

function probe(core: HfTokenizerCore, encoded = encodeProbe(core)): ProbeIds {
  const ids = encoded.full.filter((id): id is number => Number.isInteger(id));
  if (ids.length > 0) core.decode(ids, { skip_special_tokens: true });
  return encoded;
}

/**
 * What the library threw, as a `ModelLoadError` naming the file at fault and what to do (the
 * library's error is its `cause`): tokenizer_config.json when the files build without it, else
 * tokenizer.json and its part whose removal (or, for one it lacks, a null) lets them build (its
 * model when none does). The library's message is kept where it is its own check (`Unknown
 * Normalizer type: …`); a TypeError from inside it (`x.split is not a function`) is not repeated.
 * Only on failure: each guess builds the tokenizer again.
 */
function tokenizerBuildError(
  cause: unknown,
  json: Record<string, unknown>,
  config: Record<string, unknown>,
  paths: TokenizerPaths,
  how: { readonly probe: boolean; readonly ownPostProcessor: boolean },
): ModelLoadError {
  const reason = cause instanceof Error && !(cause instanceof TypeError) ? cause.message : 'a field it reads is not of the shape it expects';
  if (builds(json, {}, how)) {
    return new ModelLoadError(
      `${paths.configPath}: @huggingface/tokenizers could not build the tokenizer with this config (${reason}); fix the field at fault, or use the model's original tokenizer_config.json.`,
      { path: paths.configPath, cause },
    );
  }
  const part = PARTS.find((p) => json[p] !== null && builds({ ...json, [p]: null }, config, how)) ?? 'model';
  const verb = how.probe ? 'encode text with' : 'build';
  return new ModelLoadError(
    `${paths.path}: @huggingface/tokenizers could not ${verb} its ${part} (${reason}); fix it, or use the model's original tokenizer.json.`,
    { path: paths.path, cause },
  );
}

/** Whether the library builds (and, with `probe`, runs) a tokenizer of `json` and `config`. */
function builds(json: Record<string, unknown>, config: Record<string, unknown>, how: { readonly probe: boolean; readonly ownPostProcessor: boolean }): boolean {
  try {
    const core = new HfTokenizerCore(json, config);
    if (how.probe) {
      if (!how.ownPostProcessor) core.post_processor = null;
      probe(core);
    }
    return true;
  } catch {
    return false;
  }
}
