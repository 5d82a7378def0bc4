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
  /** KV bytes at the end of the last document, and the most over all documents. */
  readonly kvBytes: number;
  readonly kvBytesMax: number;
  /** The same for a float32 cache of the same length. */
  readonly kvBytesFp32: number;
  readonly kvBytesFp32Max: number;
  /**
   * Median over documents of each document's median ms per single-token step; null when no
   * single-token step ran (every document was scored by its prefill alone).
   */
  readonly msPerToken: number | null;
}

/**
 * Encodes each document with the tokenizer's special tokens and runs `model.evaluate` on it
 * (prefill of `prefill` tokens, capped at the document's length − 1, then one token per step).
 * An aborted `signal` stops within one step and rejects with {@link InterruptedError}.
 */
export async function evaluateDocuments(
  model: WeftModel,
  documents: readonly string[],
  prefill: number,
  signal?: AbortSignal,
  pipeline: Pick<PerplexityRequest, 'kv' | 'router'> = {},
): Promise<EvalSummary> {
  let nll = 0;
  let tokens = 0;
  let skipped = 0;
  let last = { kvBytes: 0, kvBytesFp32: 0 };
  let kvBytesMax = 0;
  let kvBytesFp32Max = 0;
  const stepMs: number[] = [];
  for (const [index, document] of documents.entries()) {
    if (signal?.aborted) throw new InterruptedError();
    const inputIds = model.tokenizer.encode(document);
    if (inputIds.length < 2) {
      skipped++;
      continue;
    }
    let result;
    try {
      result = await model.evaluate({ inputIds, prefillTokens: Math.min(prefill, inputIds.length - 1), ...pipeline, ...(signal ? { signal } : {}) });
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
    nll += result.nll;
    tokens += result.tokens;
    last = { kvBytes: result.kvBytes, kvBytesFp32: result.kvBytesFp32 };
    kvBytesMax = Math.max(kvBytesMax, result.kvBytes);
    kvBytesFp32Max = Math.max(kvBytesFp32Max, result.kvBytesFp32);
    if (result.msPerToken > 0) stepMs.push(result.msPerToken);
  }
  return {
    perplexity: tokens > 0 ? Math.exp(nll / tokens) : Number.NaN,
    nll,
    tokens,
    documents: documents.length - skipped,
    skippedDocuments: skipped,
    kvBytes: last.kvBytes,
    kvBytesMax,
    kvBytesFp32: last.kvBytesFp32,
    kvBytesFp32Max,
    msPerToken: stepMs.length > 0 ? median(stepMs) : null,
  };
}
