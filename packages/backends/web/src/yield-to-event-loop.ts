const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
let channel: MessageChannel | undefined;
const waiting: (() => void)[] = [];

/**
 * Resolves on a later macrotask: `setImmediate` under Node.js, a `MessageChannel` message in
 * browsers (not clamped to 4 ms like a nested `setTimeout`). onnxruntime-web's wasm `run` works
 * on the calling thread and settles through microtasks only, so without this a generation loop
 * never lets timers, I/O, abort handlers or UI events in until it ends.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    if (immediate) {
      immediate(resolve);
      return;
    }
    if (!channel) {
      channel = new MessageChannel();
      channel.port1.onmessage = () => waiting.shift()?.();
    }
    waiting.push(resolve);
    channel.port2.postMessage(undefined);
  });
}
