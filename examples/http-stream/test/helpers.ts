import { fileURLToPath } from 'node:url';
import { definePlugin, type DoneEvent, type GenerationRequest, type WeftModel, type WeftPlugin } from '@weft/core';

export const storyModel = fileURLToPath(new URL('../../../models/story', import.meta.url));

/** The done event of a generation run directly on `model` (no server). */
export function doneOf(model: WeftModel, request: GenerationRequest): Promise<DoneEvent> {
  return new Promise((resolve, reject) => {
    let done: DoneEvent | undefined;
    model.generate(request).subscribe({
      next: (event) => void (event.type === 'done' && (done = event)),
      error: reject,
      complete: () => (done ? resolve(done) : reject(new Error('the generation ended without a done event'))),
    });
  });
}

/** One Server-Sent Event: its `event:` name (`message` when it has none) and its `data:` parsed as JSON. */
export interface SseEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/**
 * The events of an SSE response as they arrive. Stops when the response ends (or, with
 * `signal`-aborted fetches, rejects with the AbortError).
 */
export async function* sseEvents(response: Response): AsyncGenerator<SseEvent> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice('event: '.length);
          else if (line.startsWith('data: ')) data.push(line.slice('data: '.length));
          else throw new Error(`unexpected SSE line ${JSON.stringify(line)}`);
        }
        yield { event, data: JSON.parse(data.join('\n')) as Record<string, unknown> };
      }
    }
    if (buffer !== '') throw new Error(`the stream ended inside an event: ${JSON.stringify(buffer)}`);
  } finally {
    reader.releaseLock();
  }
}

/** Every event of an SSE response, to its end. */
export async function allEvents(response: Response): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for await (const event of sseEvents(response)) events.push(event);
  return events;
}

/**
 * Polls `condition` every 10 ms until it holds; fails after `timeoutMs`. A bound on waiting for
 * something that must happen, not a measurement of how fast it happens.
 */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A plugin whose `afterForward` hook counts the forward passes of every generation of its runtime,
 * and on request makes each one slower or fail:
 * - `spinMs`: busy-waits that long after each pass, standing in for a bigger model. models/story
 *   writes its whole story in a fraction of a second, faster than a client can hang up;
 * - `failWith`: throws an Error with that message (the stream fails with a PluginError).
 */
export function stepProbe(): { readonly plugin: WeftPlugin; steps: number; spinMs: number; failWith: string | undefined; reset(): void } {
  const probe = {
    steps: 0,
    spinMs: 0,
    failWith: undefined as string | undefined,
    reset() {
      probe.spinMs = 0;
      probe.failWith = undefined;
    },
    plugin: definePlugin({
      name: 'test-step-probe',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup(ctx) {
        ctx.addHooks({
          afterForward() {
            probe.steps++;
            if (probe.failWith !== undefined) throw new Error(probe.failWith);
            const until = performance.now() + probe.spinMs;
            while (performance.now() < until);
          },
        });
      },
    }),
  };
  return probe;
}
