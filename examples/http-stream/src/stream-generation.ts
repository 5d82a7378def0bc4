/**
 * One generation for one HTTP response: `model.generate(…)` with an AbortController, its events
 * written to the response as Server-Sent Events (or as one JSON object with `"stream": false`), and
 * an abort when the client goes away.
 */
import type { ServerResponse } from 'node:http';
import type { DoneEvent, FinishReason, GenerationEvent, GenerationRequest, Usage, WeftModel } from '@weft/core';
import { describeError, errorBody, internalError, sendJson, sendWeftError, sse, type Logger } from './http-io.js';

/** What happened to a generation, for code that watches the server (tests, metrics). */
export type ServerEvent =
  /** The client disconnected before its response was complete; the generation is being aborted. */
  | { readonly type: 'client-gone'; readonly request: number; readonly tokens: number }
  /** A generation ended: `why` says what ended it, `tokens` how many tokens it generated. */
  | {
      readonly type: 'end';
      readonly request: number;
      readonly why: 'done' | 'client-gone' | 'shutdown' | 'error';
      readonly finishReason: FinishReason | undefined;
      readonly tokens: number;
    };

/** The facts of a finished generation: the `done` SSE event, and the body of a non-streamed answer. */
export interface GenerationResult {
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly usage: Usage;
  readonly ttftMs: number;
  readonly msPerToken: number;
}

/** A generation in flight, as the server holds it. */
export interface Generation {
  /** Aborts it: Weft stops at its next step, and the run ends with `finishReason: "abort"`. */
  stop(why: 'client-gone' | 'shutdown'): void;
  /** Resolves once the generation has ended (done or failed). */
  readonly ended: Promise<void>;
}

/** Inputs of {@link streamGeneration}. */
export interface StreamGenerationOptions {
  readonly model: WeftModel;
  /** What to generate (checked by Weft when the run starts). */
  readonly request: GenerationRequest;
  /** `true`: Server-Sent Events as tokens come; `false`: one JSON object at the end. */
  readonly stream: boolean;
  readonly res: ServerResponse;
  /** The request's number, for the log and the server events. */
  readonly id: number;
  readonly log: Logger;
  readonly onEvent?: ((event: ServerEvent) => void) | undefined;
  /** Called before the run starts: from here the generation holds a slot. */
  readonly takeSlot: (generation: Generation) => void;
  /** Called once when the generation has ended, whatever ended it: its slot is free. */
  readonly freeSlot: (generation: Generation) => void;
}

/** Runs one generation, writing its events to `res`. It holds a slot until it ends. */
export function streamGeneration(options: StreamGenerationOptions): Generation {
  const { model, request, stream, res, id, log, onEvent } = options;
  const controller = new AbortController();
  /** Tokens generated so far. */
  let tokens = 0;
  /** Set when something other than the model ended the generation. */
  let stoppedBy: 'client-gone' | 'shutdown' | undefined;
  let finished = false;
  let resolveEnded!: () => void;
  const generation: Generation = {
    stop(why) {
      stoppedBy ??= why;
      controller.abort();
    },
    ended: new Promise((resolve) => (resolveEnded = resolve)),
  };

  options.takeSlot(generation);
  // 'close' before the response finished: the client went away (or the socket broke). Abort, so
  // that the model stops at its next step instead of generating for nobody.
  res.on('close', onClose);

  model.generate({ ...request, signal: controller.signal }).subscribe({
    next(event: GenerationEvent) {
      switch (event.type) {
        case 'start':
          // Weft has checked the request by now. The SSE headers go out only here, so that a bad
          // request (a refused value, a prompt over the context) is still a 400 JSON answer; from
          // here on, an error arrives as an `error` event.
          if (stream && !res.destroyed) {
            res.writeHead(200, {
              'Content-Type': 'text/event-stream; charset=utf-8',
              'Cache-Control': 'no-cache, no-transform',
              'X-Accel-Buffering': 'no',
            });
            res.flushHeaders();
          }
          break;
        case 'token':
          tokens++;
          if (stream && writable(res)) res.write(sse({ id: event.id, text: event.text }));
          break;
        case 'flush':
          // Text held back until the row ended (an unfinished character, a possible stop string):
          // one more event without an id, so that the texts of the events join into the done text.
          if (stream && event.text !== '' && writable(res)) res.write(sse({ text: event.text }));
          break;
        case 'done':
          answer(event);
          break;
      }
    },
    error(error: unknown) {
      finish(undefined, true);
      if (res.destroyed) return;
      if (!res.headersSent) return sendWeftError(res, error, id, log);
      log.error(`#${id} failed mid-stream: ${describeError(error)}`);
      res.end(sse(errorBody(internalError(id)), 'error'));
    },
  });
  return generation;

  function onClose(): void {
    if (finished || res.writableFinished) return;
    stoppedBy ??= 'client-gone';
    onEvent?.({ type: 'client-gone', request: id, tokens });
    controller.abort();
  }

  /** The generation is done (also when aborted): log it, and end the response with its result. */
  function answer(done: DoneEvent): void {
    const result: GenerationResult = {
      text: done.rows[0]?.text ?? '',
      finishReason: done.finishReason,
      usage: done.usage,
      ttftMs: round(done.ttftMs),
      msPerToken: round(done.msPerToken),
    };
    finish(done.finishReason, false);
    const count = done.usage.completionTokens;
    if (stoppedBy === 'client-gone') log.info(`#${id} client went away after ${count} tokens; generation stopped (finishReason ${done.finishReason})`);
    else if (stoppedBy === 'shutdown') log.info(`#${id} shutting down: generation stopped after ${count} tokens`);
    else log.info(`#${id} done: ${count} tokens, finishReason ${done.finishReason}, ttft ${result.ttftMs} ms, ${result.msPerToken} ms/token`);
    if (res.destroyed) return;
    if (stream) res.end(sse(result, 'done'));
    else sendJson(res, 200, result);
  }

  /** Frees the slot once, whatever ended the generation. */
  function finish(finishReason: FinishReason | undefined, failed: boolean): void {
    if (finished) return;
    finished = true;
    options.freeSlot(generation);
    res.off('close', onClose);
    const why = failed ? 'error' : (stoppedBy ?? 'done');
    onEvent?.({ type: 'end', request: id, why, finishReason, tokens });
    resolveEnded();
  }
}

function writable(res: ServerResponse): boolean {
  return !res.destroyed && !res.writableEnded;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
