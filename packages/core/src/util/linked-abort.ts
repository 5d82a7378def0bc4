/**
 * An AbortController that each of `outer` also aborts (with that signal's reason), until `unlink`
 * is called. Already-aborted signals abort it at once.
 *
 * However many controllers link to one signal (a runtime's ending signal under many concurrent
 * loads, a caller's signal passed to each of them), the signal gets one listener of Weft's, which
 * calls theirs: Node warns (`MaxListenersExceededWarning`) from the eleventh listener on one
 * signal, and the limit of a signal the caller owns is the caller's to set.
 */
export function linkedAbortController(...outer: (AbortSignal | undefined)[]): AbortController & { unlink(): void } {
  const controller = new AbortController();
  const links: (() => void)[] = [];
  for (const signal of outer) {
    if (!signal) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    links.push(onAbort(signal, () => controller.abort(signal.reason)));
  }
  return Object.assign(controller, {
    unlink: () => {
      for (const unlink of links) unlink();
      links.length = 0;
    },
  });
}

/** Per signal: the callbacks its one listener calls, and that listener. */
const fans = new WeakMap<AbortSignal, { readonly callbacks: Set<() => void>; readonly listener: () => void }>();

/**
 * Calls `callback` once when `signal` aborts, through one listener per signal (added with the
 * first callback, removed with the last); returns what takes `callback` off again.
 */
function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let fan = fans.get(signal);
  if (fan === undefined) {
    const callbacks = new Set<() => void>();
    const listener = (): void => {
      fans.delete(signal);
      // A copy: a callback may unlink others (or itself) while they are called.
      for (const call of [...callbacks]) call();
      callbacks.clear();
    };
    fan = { callbacks, listener };
    fans.set(signal, fan);
    signal.addEventListener('abort', listener, { once: true });
  }
  // Each link its own entry, even when the same function is linked twice.
  const entry = (): void => callback();
  const { callbacks, listener } = fan;
  callbacks.add(entry);
  return () => {
    if (!callbacks.delete(entry) || callbacks.size > 0) return;
    if (fans.get(signal)?.callbacks === callbacks) fans.delete(signal);
    signal.removeEventListener('abort', listener);
  };
}

/** Whether `value` is an AbortSignal, also one from another realm (an iframe, a worker's polyfill). */
export function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof AbortSignal !== 'undefined' && value instanceof AbortSignal) return true;
  const candidate = value as { aborted?: unknown; addEventListener?: unknown; removeEventListener?: unknown } | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.aborted === 'boolean' && typeof candidate.addEventListener === 'function' && typeof candidate.removeEventListener === 'function';
}
