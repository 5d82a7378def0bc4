/**
 * A lane is the cache of one (batch row, key/value head) of one layer's keys or values: a sequence
 * of tokens of `dim` values each, in some storage format. Stores keep one lane per row and head, so
 * per-head eviction simply gives each lane its own slot list.
 */
export interface Lane {
  /** Tokens held. */
  readonly length: number;
  /** Appends `count` tokens read from `src` at `offset` (token-major, `dim` values per token). */
  push(src: Float32Array, offset: number, count: number): void;
  /** Writes tokens [from, to) as float32 to `out` at `outOffset` (token-major). */
  read(from: number, to: number, out: Float32Array, outOffset: number): void;
  /** Removes the first `count` tokens. */
  dropFront(count: number): void;
  /** Keeps the tokens at the given ascending indices, in that order. */
  retain(keep: readonly number[]): void;
  /** Bytes of the stored representation (codes, scales, zero points, full-precision values). */
  bytes(): number;
  /**
   * Appends to `out` the [start, end) token ranges whose stored value changed since the last call
   * (tokens moved to a lower precision), then forgets them. Lanes that never requantise omit it.
   */
  takeChanged?(out: number[]): void;
}
