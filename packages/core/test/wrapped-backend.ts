import { NodeBackendAdapter } from '@weft/backend-node';
import { definePlugin, type BackendTensor, type GenerationHooks, type InferenceSession, type WeftPlugin } from '../src/index.js';

/** What a test observes of a {@link wrappedNodeBackend}'s sessions. Every callback is optional. */
export interface WrappedNodeBackendOptions {
  /** Backend name: what `load({ backend })` picks and `model.backend` reports. The plugin is `${name}-backend`. */
  readonly name: string;
  /** Registry priority; above the node backend's to be picked by default. */
  readonly priority: number;
  /** Generation hooks the plugin adds. */
  readonly hooks?: readonly GenerationHooks[];
  /** Called as `createSession` starts; a returned promise holds the session back until it settles. */
  readonly beforeCreateSession?: () => void | Promise<void>;
  /** Called once the inner session has opened, before it is handed to Weft. */
  readonly onSessionOpened?: () => void;
  /** Holds every tensor a session creates or returns from `run`, until that tensor is disposed. */
  readonly liveTensors?: Set<BackendTensor>;
  /** Called on every `dispose()` of a tensor tracked in `liveTensors`. */
  readonly onTensorDisposed?: () => void;
  /** Called before each forward pass. */
  readonly beforeRun?: () => void;
  /** Called with each forward pass's outputs before Weft sees them (e.g. to inject a fault into real logits). */
  readonly afterRun?: (outputs: Readonly<Record<string, BackendTensor>>) => void;
  /** What each run resolves with instead of the outputs (which are then disposed): a broken backend. */
  readonly runResult?: { readonly value: unknown };
  /** Called on every `release()` call, before the inner session is released. */
  readonly onRelease?: (session: InferenceSession) => void;
  /** Called on every `release()` call after `onRelease`; a returned promise holds the inner release back until it settles. */
  readonly beforeRelease?: () => void | Promise<void>;
  /** Declares the session's tensors garbage-collected (`InferenceSession.garbageCollectedTensors`). */
  readonly garbageCollectedTensors?: boolean;
  /** Replaces each session (built with the observers above) by the one it returns, e.g. to wrap `run` or `release`. */
  readonly wrapSession?: (session: InferenceSession) => InferenceSession;
}

/** A plugin registering onnxruntime-node (one intra-op thread) under another name, with the given observers. */
export function wrappedNodeBackend(options: WrappedNodeBackendOptions): WeftPlugin {
  const { name, priority, hooks = [], beforeCreateSession, onSessionOpened, liveTensors, onTensorDisposed, beforeRun, afterRun, runResult, onRelease, beforeRelease, garbageCollectedTensors, wrapSession } = options;
  const track = <T extends BackendTensor>(tensor: T): T => {
    if (liveTensors === undefined) return tensor;
    liveTensors.add(tensor);
    const dispose = tensor.dispose.bind(tensor);
    (tensor as { dispose: () => void }).dispose = () => {
      liveTensors.delete(tensor);
      onTensorDisposed?.();
      dispose();
    };
    return tensor;
  };
  return definePlugin({
    name: `${name}-backend`,
    version: '1.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      for (const h of hooks) ctx.addHooks(h);
      ctx.register('backend', {
        name,
        priority,
        create: () => {
          const inner = new NodeBackendAdapter({ intraOpNumThreads: 1 });
          return {
            specificationVersion: 'v1',
            name,
            probe: () => inner.probe(),
            async createSession(source, sessionOptions) {
              const holding = beforeCreateSession?.();
              if (holding !== undefined) await holding;
              const s = await inner.createSession(source, sessionOptions);
              onSessionOpened?.();
              const base: InferenceSession = {
                inputNames: s.inputNames,
                outputNames: s.outputNames,
                inputMetadata: s.inputMetadata,
                outputMetadata: s.outputMetadata,
                ...(garbageCollectedTensors === undefined ? {} : { garbageCollectedTensors }),
                createTensor: (type, data, dims) => track(s.createTensor(type, data, dims)),
                async run(feeds, o) {
                  beforeRun?.();
                  const outputs = await s.run(feeds, o);
                  afterRun?.(outputs);
                  if (runResult !== undefined) {
                    for (const t of Object.values(outputs)) t.dispose();
                    return runResult.value as never;
                  }
                  if (liveTensors === undefined) return outputs;
                  return Object.fromEntries(Object.entries(outputs).map(([key, t]) => [key, track(t)]));
                },
                async release() {
                  onRelease?.(session);
                  const holding = beforeRelease?.();
                  if (holding !== undefined) await holding;
                  await s.release();
                },
              };
              const session = wrapSession?.(base) ?? base;
              return session;
            },
          };
        },
      });
    },
  });
}

/**
 * Two wrapped node backends for failover tests: `first` (priority 1000), whose runs throw
 * "device lost" while `broken` is set, and `second` (priority 900), which always works.
 */
export function breakableFirstAndSecond(): { readonly plugins: readonly WeftPlugin[]; readonly setBroken: (broken: boolean) => void } {
  let broken = false;
  return {
    plugins: [
      wrappedNodeBackend({
        name: 'first',
        priority: 1000,
        beforeRun: () => {
          if (broken) throw new Error('device lost');
        },
      }),
      wrappedNodeBackend({ name: 'second', priority: 900 }),
    ],
    setBroken: (value) => void (broken = value),
  };
}
