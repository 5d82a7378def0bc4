/**
 * The request fuzzer's building blocks (request-fuzz-values.ts): the seeded generator, the case's
 * tracker and store, and values that throw or change under the reader.
 */
import { FullPrecisionKvStore, type AttentionRouter, type KvCacheInit, type KvCacheStore } from '../src/index.js';
/** mulberry32: the same seed gives the same case on every platform. */
export class Rng {
  private state: number;
  /** The case's chance of a hostile value where a field offers valid and hostile ones (set per case). */
  hostility = 0.3;
  constructor(seed: number) {
    this.state = (seed ^ 0x2545f491) >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** Whether this value is a hostile one, at the case's {@link hostility}. */
  hostile(): boolean {
    return this.chance(this.hostility);
  }
}

/** The tiny fixture's facts the generator aims at (vocab size, context length). */
export const VOCAB = 1024;
export const CONTEXT = 256;

/** What a case's components report, so the runner can check for leaks and reuse what behaved. */
export class Tracker {
  /** Stores made by a well-behaved factory (request instances and registry entries): begun and disposed counts. */
  readonly stores: TrackedStore[] = [];
  /** Instances that behave, passed in the request: after the case each must serve a plain request (no claim left). */
  readonly reusable: { readonly kv?: KvCacheStore; readonly router?: AttentionRouter }[] = [];
  /** Abort the case's controller before this forward pass (read by the fuzz plugin's hook). */
  abortAtStep: number | undefined;
  controller: AbortController | undefined;
  /** The case's abort signals: an evaluation may reject with an aborted one's reason, as documented. */
  readonly signals: AbortSignal[] = [];
  /** Whether the request has a signal field at all (an aborted evaluation rejects with an AbortError). */
  signalGiven = false;
}

/** A full-precision store that counts `begin` and `dispose` (leak check). */
export class TrackedStore extends FullPrecisionKvStore {
  begun = 0;
  disposed = 0;
  override begin(init: KvCacheInit): void {
    this.begun++;
    super.begin(init);
  }
  override dispose(): void {
    this.disposed++;
    super.dispose();
  }
  /** Whether a run that began it has also disposed it (every `begin` has a later `dispose`). */
  get settled(): boolean {
    return this.disposed >= this.begun;
  }
}

/** A value and how a failure report names it. */
export interface Choice {
  readonly label: string;
  readonly value: unknown;
}

export type Maker = (rng: Rng, t: Tracker) => Choice;
export const v = (label: string, value: unknown): Maker => () => ({ label, value });

/** Reads of this getter after the first `n` return `later` (a value that changes under the reader). */
export function flipping(first: unknown, later: unknown, n = 1): () => unknown {
  let reads = 0;
  return () => (reads++ < n ? first : later);
}

export function throwingGetter(target: object, key: string, error: unknown = new Error(`reading ${key} is not allowed`)): object {
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get() {
      throw error;
    },
  });
  return target;
}

/** A Proxy of `target` whose every trap throws. */
export const exploding = (target: object): object =>
  new Proxy(target, {
    get() {
      throw new Error('proxy get trap refused');
    },
    has() {
      throw new Error('proxy has trap refused');
    },
    ownKeys() {
      throw new Error('proxy ownKeys trap refused');
    },
    getOwnPropertyDescriptor() {
      throw new Error('proxy descriptor trap refused');
    },
    getPrototypeOf() {
      throw new Error('proxy prototype trap refused');
    },
  });

/** A transparent Proxy (every trap forwards). */
export const transparent = <T extends object>(target: T): T => new Proxy(target, {});

/** Thrown values plugin code may throw. */
export const THROWN: readonly Maker[] = [
  v('an Error', new Error('component failed on purpose')),
  v('a TypeError', new TypeError('component type failure')),
  v('a string', 'component threw a string'),
  v('undefined', undefined),
  v('null', null),
  v('a number', 42),
  v('an empty Error', new Error('')),
  () => ({ label: 'an object whose toString throws', value: { toString() { throw new Error('no string'); } } }),
  () => ({ label: 'an exploding Proxy', value: exploding({}) }),
  () => ({ label: 'a multi-line Error', value: new Error('first line\n    at fake (stack.js:1:1)\nsecond line') }),
  () => ({ label: 'a huge message', value: new Error('x'.repeat(100_000)) }),
];

