import {
  BackendError,
  type BackendTensor,
  type InferenceSession,
  type TensorDataType,
  type TensorDataTypeMap,
  type ValueInfo,
} from '@weft/core';
import type * as ortTypes from 'onnxruntime-web';
import { yieldToEventLoop } from './yield-to-event-loop.js';

type Ort = typeof import('onnxruntime-web');

/** The latest run queued through {@link oneAtATime}, settled or not. */
let lastRun: Promise<unknown> = Promise.resolve();

/**
 * Starts `work` once every run queued before it has settled. onnxruntime-web's browser build
 * runs one session at a time: a `run` while another is going, of any session, fails with
 * "Session already started" (two streams at once, of one model or two).
 */
function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const turn = lastRun.then(work, work);
  lastRun = turn.catch(() => undefined);
  return turn;
}

/**
 * An onnxruntime-web session behind Weft's `InferenceSession`. Tensors are onnxruntime-web's own
 * CPU tensors (they satisfy `BackendTensor` as they are), so outputs are fed back without copies.
 */
export class WebSession implements InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueInfo[];
  readonly outputMetadata: readonly ValueInfo[];
  /**
   * Every tensor here is CPU memory in JavaScript: inputs wrap the typed arrays given, and Weft
   * never asks for device-resident outputs (`preferredOutputLocation` stays `cpu`), so
   * onnxruntime-web returns outputs as typed arrays whatever the provider. Disposing one frees
   * nothing, so Weft drops them.
   */
  readonly garbageCollectedTensors = true;
  /**
   * Runs wait their turn (onnxruntime-web runs one at a time) and a run whose signal aborted while
   * it waited is refused: Weft gives each generation's runs a signal that aborts when it stops
   * waiting for them, so a client that left costs no queued pass.
   */
  readonly watchesRunSignal = true;
  /** Set by the first `release()`, which every later call returns. */
  private releasing: Promise<void> | undefined;
  /**
   * onnxruntime-web's runs not yet settled. `release` waits for them: freed under a run that has
   * started, the session was used after it was freed (under Node.js the run failed with a garbage
   * error such as "Invalid input name"; in a browser page it could spin forever, hanging the tab).
   */
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly ort: Ort,
    private readonly session: ortTypes.InferenceSession,
    /** The providers the session was created with (those of the list asked for that are available here), in order of preference. */
    readonly executionProviders: readonly string[],
  ) {
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
    this.inputMetadata = session.inputMetadata.map(toValueInfo);
    this.outputMetadata = session.outputMetadata.map(toValueInfo);
  }

  createTensor<T extends TensorDataType>(type: T, data: TensorDataTypeMap[T], dims: readonly number[]): BackendTensor<T> {
    return new this.ort.Tensor(type, data as never, dims) as unknown as BackendTensor<T>;
  }

  async run(
    feeds: Readonly<Record<string, BackendTensor>>,
    options: { readonly signal?: AbortSignal; readonly fetches?: readonly string[] } = {},
  ): Promise<Record<string, BackendTensor>> {
    if (this.releasing) throw new BackendError('This session was released; load the model again.', { backend: 'web' });
    const { signal } = options;
    signal?.throwIfAborted();
    const ortFeeds = feeds as unknown as Record<string, ortTypes.Tensor>;
    const work = oneAtATime(() => {
      // Released while this run waited its turn: it never reaches onnxruntime-web.
      if (this.releasing) throw new BackendError('This session was released before this run started; load the model again.', { backend: 'web' });
      // Aborted while it waited its turn (behind another run): refused with the signal's reason.
      signal?.throwIfAborted();
      return options.fetches ? this.session.run(ortFeeds, [...options.fetches]) : this.session.run(ortFeeds);
    });
    this.running.add(work);
    let outputs: ortTypes.InferenceSession.ReturnType;
    try {
      outputs = await work;
    } finally {
      this.running.delete(work);
    }
    // Released meanwhile: the run was let finish, but it fails, as onnxruntime-node's does (Weft
    // ends the stream of a disposed model with `ModelDisposedError` whatever a run rejects with).
    if (this.releasing) throw new BackendError('This session was released while it ran; load the model again.', { backend: 'web' });
    // Let the event loop in between steps (abort signals, timers, Ctrl-C, UI events).
    await yieldToEventLoop();
    return outputs as unknown as Record<string, BackendTensor>;
  }

  /**
   * Refuses new runs at once; runs already started are let finish (they then reject), and the
   * session is freed once they have settled. Every call returns the same promise.
   */
  release(): Promise<void> {
    this.releasing ??= Promise.allSettled(this.running).then(() => this.session.release());
    return this.releasing;
  }
}

function toValueInfo(meta: ortTypes.InferenceSession.ValueMetadata): ValueInfo {
  if (!meta.isTensor) return { name: meta.name };
  return { name: meta.name, type: meta.type as TensorDataType, shape: meta.shape.length > 0 ? meta.shape : undefined };
}
