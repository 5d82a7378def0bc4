/**
 * Calls `handle` if `value` is a promise (or any thenable) that rejects, or whose `then` throws;
 * does nothing for any other value, and never throws. For code that calls a listener it does not
 * await (a plugin's event or decision listener) and must not leave its rejection unhandled.
 */
export function onRejection(value: unknown, handle: (error: unknown) => void): void {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return;
  try {
    const then = (value as { then?: unknown }).then;
    if (typeof then === 'function') Reflect.apply(then, value, [undefined, handle]);
  } catch (error) {
    handle(error);
  }
}
