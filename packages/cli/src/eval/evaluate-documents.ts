import { ContextOverflowError, median, type PerplexityRequest, type WeftModel } from '@weft/core';
import { InterruptedError } from '../errors.js';

/** Perplexity over several documents: one NLL sum and one token count across all of them. */
export interface EvalSummary {
  readonly perplexity: number;
  /** Summed negative log-likelihood in nats. */
  readonly nll: number;
  /** Predicted tokens (each document's length minus one, summed). */
  readonly tokens: number;
  readonly documents: number;
  /** Documents shorter than two tokens, which have nothing to predict. */
  readonly skippedDocuments: number;
  /** Documents longer than the model's context, each scored in several windows (see {@link contextWindows}). */
  readonly longDocuments: number;
  /** `model.evaluate` runs over all documents: one per document, more for a long one. */
  readonly windows: number;
  /** KV bytes at the end of the last document, and the most over all documents. */
  readonly kvBytes: number;
  readonly kvBytesMax: number;
  /** The same for a float32 cache of the same length. */
  readonly kvBytesFp32: number;
  readonly kvBytesFp32Max: number;
  /**
   * Median over documents (over windows, for a long one) of each one's median ms per single-token
   * step; null when no single-token step ran (every document was scored by its prefill alone).
   */
  readonly msPerToken: number | null;
}

/**
 * Splits `ids` into windows of at most `context` ids that follow each other with one id of overlap:
 * each window starts with the last id of the one before, so every id after the first is predicted
 * exactly once. Ids in later windows are scored with the context of their own window only (the
 * model sees no further back). Ids that fit the context are one window.
 */
export function contextWindows(ids: readonly number[], context: number): number[][] {
  if (!Number.isInteger(context) || context < 2) throw new RangeError(`context must be an integer >= 2 (got ${context})`);
  if (ids.length <= context) return [[...ids]];
  const windows: number[][] = [];
  for (let start = 0; start < ids.length - 1; start += context - 1) windows.push(ids.slice(start, start + context));
  return windows;
}

/**
 * How far {@link evaluateDocuments} has got: told after each document (skipped ones included), and
 * after each window but the last of a document longer than the context.
 */
export interface EvalProgress {
  /** Documents done (scored or skipped) and in all. */
  readonly done: number;
  readonly total: number;
  /** Tokens scored so far, and their summed negative log-likelihood in nats. */
  readonly tokens: number;
  readonly nll: number;
  /** Within the document being scored (document `done + 1`), its windows done and in all. */
  readonly window?: { readonly done: number; readonly total: number };
}

/**
 * Encodes each document with the tokenizer's special tokens and runs `model.evaluate` on it
 * (prefill of `prefill` tokens, capped at the document's length − 1, then one token per step).
 * A document longer than the model's context is scored window by window ({@link contextWindows}).
 * An aborted `signal` stops within one step and rejects with {@link InterruptedError}.
 * `onProgress` is told after each document and each window of a long one; what it throws ends the evaluation.
 */
export async function evaluateDocuments(
  model: WeftModel,
  documents: readonly string[],
  prefill: number,
  signal?: AbortSignal,
  pipeline: Pick<PerplexityRequest, 'kv' | 'router'> = {},
  onProgress?: (progress: EvalProgress) => void,
): Promise<EvalSummary> {
  let nll = 0;
  let tokens = 0;
  let skipped = 0;
  let long = 0;
  let windowCount = 0;
  let last = { kvBytes: 0, kvBytesFp32: 0 };
  let kvBytesMax = 0;
  let kvBytesFp32Max = 0;
  const stepMs: number[] = [];
  for (const [index, document] of documents.entries()) {
    if (signal?.aborted) throw new InterruptedError();
    const inputIds = model.tokenizer.encode(document);
    if (inputIds.length < 2) {
      skipped++;
      onProgress?.({ done: index + 1, total: documents.length, tokens, nll });
      continue;
    }
    const windows = contextWindows(inputIds, model.config.maxPositions);
    if (windows.length > 1) long++;
    for (const [w, window] of windows.entries()) {
      let result;
      try {
        result = await model.evaluate({ inputIds: window, prefillTokens: Math.min(prefill, window.length - 1), ...pipeline, ...(signal ? { signal } : {}) });
      } catch (error) {
        if (signal?.aborted) throw new InterruptedError();
        if (ContextOverflowError.isInstance(error)) {
          throw new ContextOverflowError(`Document ${index + 1} of ${documents.length}: ${error.message}`, {
            promptTokens: error.promptTokens,
            contextLength: error.contextLength,
          });
        }
        throw error;
      }
      windowCount++;
      nll += result.nll;
      tokens += result.tokens;
      last = { kvBytes: result.kvBytes, kvBytesFp32: result.kvBytesFp32 };
      kvBytesMax = Math.max(kvBytesMax, result.kvBytes);
      kvBytesFp32Max = Math.max(kvBytesFp32Max, result.kvBytesFp32);
      if (result.msPerToken > 0) stepMs.push(result.msPerToken);
      // A long document takes a while: its windows are progress too.
      if (w + 1 < windows.length) onProgress?.({ done: index, total: documents.length, tokens, nll, window: { done: w + 1, total: windows.length } });
    }
    onProgress?.({ done: index + 1, total: documents.length, tokens, nll });
  }
  return {
    perplexity: tokens > 0 ? Math.exp(nll / tokens) : Number.NaN,
    nll,
    tokens,
    documents: documents.length - skipped,
    skippedDocuments: skipped,
    longDocuments: long,
    windows: windowCount,
    kvBytes: last.kvBytes,
    kvBytesMax,
    kvBytesFp32: last.kvBytesFp32,
    kvBytesFp32Max,
    msPerToken: stepMs.length > 0 ? median(stepMs) : null,
  };
}
