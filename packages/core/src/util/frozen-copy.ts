/**
 * A deep copy of plain data (objects, arrays, typed arrays, primitives), frozen all the way down.
 * Iterative, so a config.json nested thousands deep (legal JSON, kept in `raw`) cannot overflow
 * the stack; keys are defined, not assigned, so a `"__proto__"` key stays an own key.
 */
export function frozenCopy<T>(root: T): T {
  const copies = new Map<object, object>();
  const unfilled: object[] = [];
  const copyOf = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    let copy = copies.get(value);
    if (copy === undefined) {
      // A typed array cannot be frozen: its values as an array instead.
      const view = ArrayBuffer.isView(value);
      copy = view ? Array.from(value as unknown as ArrayLike<number>) : Array.isArray(value) ? [] : {};
      copies.set(value, copy);
      if (!view) unfilled.push(value);
    }
    return copy;
  };
  const result = copyOf(root);
  for (let source = unfilled.pop(); source !== undefined; source = unfilled.pop()) {
    const target = copies.get(source)!;
    for (const key of Object.keys(source)) {
      Object.defineProperty(target, key, { value: copyOf((source as Record<string, unknown>)[key]), enumerable: true, writable: true, configurable: true });
    }
  }
  for (const copy of copies.values()) Object.freeze(copy);
  return result as T;
}
