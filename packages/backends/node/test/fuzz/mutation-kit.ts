/**
 * What the load fuzzer's mutations are made of (`mutations.ts`): the folder and mutation types, the
 * seeded generator, and values and byte edits that both the graph and the JSON mutations use.
 */
/** The files of a model folder, by path within it. */
export type ModelFiles = Readonly<Record<string, Uint8Array>>;

/** What a mutation puts at a path instead of the base file. */
export type Override =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'missing' }
  | { readonly kind: 'directory' }
  /** A symbolic link to `target` (absolute, or relative to the link's folder). */
  | { readonly kind: 'link'; readonly target: string }
  /** A named pipe: reading it blocks until something writes. */
  | { readonly kind: 'fifo' };

export interface Mutation {
  /** Family and name, e.g. `onnx.truncate`. */
  readonly kind: string;
  /** What exactly was done, enough to read the case without re-running it. */
  readonly detail: string;
  /** The file it is about (within the folder). */
  readonly file: string;
  readonly overrides: Readonly<Record<string, Override>>;
  /** Whether the case should also render a chat (the mutation is about the chat template). */
  readonly chat?: boolean;
}

export const GRAPH = 'onnx/model.onnx';

/** mulberry32: a small seeded generator, enough for picking mutations. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const bytes = (b: Uint8Array): Override => ({ kind: 'bytes', bytes: b });

/**
 * A value written into JSON as it is, for numbers JSON.stringify cannot make (`1e400` parses as
 * Infinity) or text that is not JSON at all.
 */
export class Raw {
  constructor(readonly text: string) {}
  toJSON(): string {
    return `\u0000RAW${this.text}\u0000`;
  }
}
export const raw = (t: string): Raw => new Raw(t);
export function stringify(value: unknown): string {
  return JSON.stringify(value, null, 1).replace(/"\\u0000RAW(.*?)\\u0000"/g, (_, t: string) => t);
}

/** Values that are wrong for most fields, in type or range. */
export const WEIRD: readonly unknown[] = [
  null, true, false, '6', '', 'NaN', -1, 0, 0.5, -6, 1.5, 1e308, raw('1e400'), raw('-1e400'), 2 ** 31, 2 ** 32 + 1,
  2 ** 53 + 1, -(2 ** 31), 1e-300, [], {}, [6], [[]], { a: 1 }, raw('-0'),
];

export function flipBytes(rng: Rng, source: Uint8Array, start: number, end: number, count: number): { out: Uint8Array; at: number[] } {
  const out = Uint8Array.from(source);
  const at: number[] = [];
  for (let i = 0; i < count; i++) {
    const offset = start + rng.int(Math.max(1, end - start));
    if (offset >= out.length) continue;
    const before = out[offset]!;
    // Half the time a single bit, else a whole random byte, else a byte typical of protobuf tags.
    out[offset] = rng.next() < 0.5 ? before ^ (1 << rng.int(8)) : rng.next() < 0.5 ? rng.int(256) : rng.pick([0x00, 0xff, 0x7f, 0x80, 0x08, 0x12, 0x0a]);
    at.push(offset);
  }
  return { out, at };
}
