import type { Tokenizer } from '../spec/tokenizer.js';

/**
 * The ids encoding with specials puts before a text's own (the BOS; none for Qwen2 or GPT-2), from
 * a probe word encoded both ways; undefined when the probe shows nothing (it encodes to no ids,
 * its own ids are not found within the full encoding, or encoding it throws: a tokenizer that
 * cannot encode it fails on real text instead).
 */
export function leadingSpecialIds(tokenizer: Pick<Tokenizer, 'encode'>): number[] | undefined {
  return specialIdsAround(tokenizer)?.leading;
}

/** The ids encoding with specials puts before (the BOS) and after (an EOS) a text's own; see {@link leadingSpecialIds}. */
export function specialIdsAround(tokenizer: Pick<Tokenizer, 'encode'>): { leading: number[]; trailing: number[] } | undefined {
  let bare: readonly number[];
  let full: readonly number[];
  try {
    bare = tokenizer.encode('Hello', { addSpecialTokens: false });
    full = tokenizer.encode('Hello');
  } catch {
    return undefined;
  }
  return specialIdsBetween(bare, full);
}

/**
 * The ids `full` (a text encoded with specials) has before and after `bare` (the same text encoded
 * without): the first place `bare` occurs in it. Undefined when `bare` is empty or not within `full`.
 */
export function specialIdsBetween(bare: readonly number[], full: readonly number[]): { leading: number[]; trailing: number[] } | undefined {
  if (bare.length === 0) return undefined;
  for (let at = 0; at + bare.length <= full.length; at++) {
    if (bare.every((id, i) => full[at + i] === id)) return { leading: full.slice(0, at), trailing: full.slice(at + bare.length) };
  }
  return undefined;
}
