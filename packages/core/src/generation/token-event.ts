import type { TokenEvent } from '../spec/events.js';
import { logProbability } from './sampling/softmax.js';

/**
 * A token event whose `logprob` is computed on first read (a full softmax costs more than a small
 * model's step). `logprob` is an own enumerable accessor, so spreading, `structuredClone`,
 * `postMessage` and `JSON.stringify` keep its value; the raw logits behind it are private.
 *
 * Every event shares one getter function and one hidden class: an object literal with a getter
 * made a new closure per token, which V8 kept in dictionary mode (~0.5 µs and ~650 bytes a token).
 */
class LazyTokenEvent implements TokenEvent {
  // Own fields in the order the object literal had them (JSON and logs show them in this order).
  readonly type = 'token' as const;
  readonly row: number;
  readonly index: number;
  readonly id: number;
  readonly text: string;
  declare readonly logprob: number;
  /** The row's raw logits until `logprob` is computed from them. */
  #raw: Float32Array | undefined;
  #logprob: number | undefined = undefined;

  constructor(row: number, index: number, id: number, text: string, raw: Float32Array) {
    this.row = row;
    this.index = index;
    this.id = id;
    this.text = text;
    this.#raw = raw;
    Object.defineProperty(this, 'logprob', LOGPROB);
  }

  static readonly logprobOf = (event: LazyTokenEvent): number => {
    if (event.#logprob === undefined) {
      event.#logprob = logProbability(event.#raw!, event.id);
      event.#raw = undefined;
    }
    return event.#logprob;
  };
}

const LOGPROB: PropertyDescriptor = {
  get(this: LazyTokenEvent): number {
    return LazyTokenEvent.logprobOf(this);
  },
  enumerable: true,
  configurable: true,
};

/**
 * The token event of `id` for `row`, its logprob read lazily from the row's raw logits: pass a
 * vocabulary-sized array that keeps no larger buffer alive (kept events would hold it).
 */
export function tokenEvent(row: number, index: number, id: number, text: string, rawLogits: Float32Array): TokenEvent {
  return new LazyTokenEvent(row, index, id, text, rawLogits);
}
