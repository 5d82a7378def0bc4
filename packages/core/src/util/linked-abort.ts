/**
 * An AbortController that each of `outer` also aborts (with that signal's reason), until `unlink`
 * is called. Already-aborted signals abort it at once.
 */
export function linkedAbortController(...outer: (AbortSignal | undefined)[]): AbortController & { unlink(): void } {
  const controller = new AbortController();
  const links: [AbortSignal, () => void][] = [];
  for (const signal of outer) {
    if (!signal) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    const forward = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    links.push([signal, forward]);
  }
  return Object.assign(controller, {
    unlink: () => {
      for (const [signal, forward] of links) signal.removeEventListener('abort', forward);
    },
  });
}

/** Whether `value` is an AbortSignal, also one from another realm (an iframe, a worker's polyfill). */
export function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof AbortSignal !== 'undefined' && value instanceof AbortSignal) return true;
  const candidate = value as { aborted?: unknown; addEventListener?: unknown; removeEventListener?: unknown } | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.aborted === 'boolean' && typeof candidate.addEventListener === 'function' && typeof candidate.removeEventListener === 'function';
}
