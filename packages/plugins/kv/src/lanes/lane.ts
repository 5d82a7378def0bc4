/**
 * A lane is the cache of one (batch row, key/value head) of one layer's keys or values: a sequence
 * of tokens of `dim` values each, in some storage format. Stores keep one lane per row and head, so
 * per-head eviction simply gives each lane its own slot list.
 */
export interface Lane {
  /** Tokens held. */
  readonly length: number;
  /**
   * Appends `count` tokens read from `src` at `offset` (token-major, `dim` values per token). A push
   * that throws (a value the format cannot hold) leaves the lane as it was.
   */
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
  /**
   * Reverts the last `push`, leaving the lane exactly as before it; only `read` and `length` may
   * be called in between. Stores call it when another lane refuses the same append. A
   * lane whose push only appends may omit it: it is then cut back to its earlier tokens with
   * `retain` (the `undoPush` function below). A lane whose push also changes earlier tokens (a tiered lane that
   * moves them to another precision) must implement it.
   */
  undoPush?(): void;
  /**
   * Why cutting the lane back to its first `length` tokens (0 ≤ length ≤ `this.length`) could not
   * leave it exactly as a lane pushed only those tokens would be (values such a lane would hold in
   * another format are gone), or undefined where `truncate(length)` is exact. Changes nothing.
   */
  truncateRefusal?(length: number): string | undefined;
  /**
   * Keeps only the first `length` tokens, as though the later ones had never been pushed: reads,
   * bytes and later pushes are then exactly those of a lane pushed only those tokens. Callers
   * check {@link truncateRefusal} first; a lane without `truncate` cannot be cut.
   */
  truncate?(length: number): void;
}

/** Reverts `lane`'s last push, `before` being its length ahead of that push: its own `undoPush`, else a `retain` of those tokens. */
export function undoPush(lane: Lane, before: number): void {
  if (lane.undoPush) lane.undoPush();
  else if (lane.length > before) lane.retain(Array.from({ length: before }, (_, i) => i));
}
