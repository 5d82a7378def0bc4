/**
 * For the session-lifecycle tests: onnxruntime-node under another name, whose runs, releases and
 * session creations can be held at a gate on demand (a backend that hangs), and which counts the
 * tensors it hands out. Its sessions keep their runs in `RunsInFlight`, as a third-party backend
 * should, so a release waits for a held run before it frees the onnxruntime session.
 */
import { afterEach, expect } from 'vitest';
import { RunsInFlight, type BackendTensor, type Weft, type WeftModel, type WeftPlugin } from '../src/index.js';
import { fixture, runtime, wrappedNodeBackend } from './helpers.js';

/** A point work waits at while closed; open by default. */
export class Gate {
  private opened = true;
  private openNow: () => void = () => {};
  private waiting: Promise<void> = Promise.resolve();
  private arrivals: (() => void)[] = [];
  /** How many have waited at it while closed. */
  arrived = 0;

  /** From now on, work that reaches the gate waits until {@link open}. */
  close(): void {
    if (!this.opened) return;
    this.opened = false;
    this.waiting = new Promise((resolve) => (this.openNow = resolve));
  }

  /** Lets everything waiting go, and what comes later pass. */
  open(): void {
    this.opened = true;
    this.openNow();
  }

  /** Waits here while closed. */
  async pass(): Promise<void> {
    if (this.opened) return;
    this.arrived++;
    for (const arrival of this.arrivals.splice(0)) arrival();
    await this.waiting;
  }

  /** Resolves once something waits at the gate (at once when something already does). */
  reached(): Promise<void> {
    if (!this.opened && this.arrived > 0) return Promise.resolve();
    return new Promise((resolve) => this.arrivals.push(resolve));
  }
}

export interface HoldingBackend {
  readonly plugin: WeftPlugin;
  /** The backend's name, as given. */
  readonly name: string;
  /** Runs wait here after onnxruntime computed their outputs, before handing them over. */
  readonly runs: Gate;
  /** `createSession` waits here before opening the graph. */
  readonly creations: Gate;
  /** `release()` waits here before it frees anything (and before it waits for runs in flight). */
  readonly releases: Gate;
  /** Every tensor created by a session or returned by a run, until disposed. */
  readonly live: Set<BackendTensor>;
  /** The `signal` each run got, in order. */
  readonly signals: (AbortSignal | undefined)[];
  /** `opened`, `released` (the onnxruntime session freed), in order. */
  readonly events: string[];
  /** While `on`, runs reject with "device lost" (a backend failing, for failover). */
  readonly broken: { on: boolean };
}

/**
 * A backend named `name` (priority 1000 unless given). `cancels`: a held run rejects as soon as
 * its signal aborts, as a backend able to cancel would. `watchesRunSignal`: its sessions say so
 * (`InferenceSession.watchesRunSignal`).
 */
export function holdingBackend(name: string, options: { readonly priority?: number; readonly cancels?: boolean; readonly watchesRunSignal?: boolean } = {}): HoldingBackend {
  const runs = new Gate();
  const creations = new Gate();
  const releases = new Gate();
  const live = new Set<BackendTensor>();
  const signals: (AbortSignal | undefined)[] = [];
  const events: string[] = [];
  const broken = { on: false };
  const plugin = wrappedNodeBackend({
    name,
    priority: options.priority ?? 1000,
    liveTensors: live,
    beforeCreateSession: () => creations.pass(),
    onSessionOpened: () => void events.push('opened'),
    wrapSession(s) {
      const inFlight = new RunsInFlight((outputs) => {
        for (const t of Object.values(outputs as Record<string, BackendTensor>)) t.dispose();
      }, name);
      let releasing: Promise<void> | undefined;
      return {
        ...s,
        ...(options.watchesRunSignal === undefined ? {} : { watchesRunSignal: options.watchesRunSignal }),
        run(feeds, o) {
          signals.push(o?.signal);
          const work = (async () => {
            if (broken.on) throw new Error('device lost');
            const tracked = await s.run(feeds);
            const held = runs.pass();
            if (options.cancels && o?.signal) {
              const signal = o.signal;
              await new Promise<void>((resolve, reject) => {
                const cancel = () => {
                  for (const t of Object.values(tracked)) t.dispose();
                  reject(new Error('run cancelled'));
                };
                if (signal.aborted) return cancel();
                signal.addEventListener('abort', cancel, { once: true });
                void held.then(() => (signal.removeEventListener('abort', cancel), resolve()));
              });
            } else await held;
            return tracked;
          })();
          return inFlight.track(work);
        },
        release() {
          releasing ??= (async () => {
            await releases.pass();
            await inFlight.closeThen(async () => {
              await s.release();
              events.push('released');
            });
          })();
          return releasing;
        },
      };
    },
  });
  return { plugin, name, runs, creations, releases, live, signals, events, broken };
}

/**
 * One runtime at a time for the tests of a file, disposed after each test. `runtime(plugins)` makes
 * it (see `runtime` in helpers.ts); `load(backend, options)` opens `tiny` on `backend` in a fresh one.
 */
export function runtimePerTest() {
  let weft: Weft | undefined;
  afterEach(async () => {
    await weft?.dispose();
    weft = undefined;
  });
  const fresh = (plugins?: readonly WeftPlugin[], options?: Parameters<typeof runtime>[1]): Weft => (weft = runtime(plugins, options));
  return {
    runtime: fresh,
    load: (backend: HoldingBackend, options: Parameters<Weft['load']>[1] = {}): Promise<WeftModel> =>
      fresh([backend.plugin]).load(fixture('tiny'), { backend: backend.name, ...options }),
    /** Disposes the current runtime now. */
    dispose: async (): Promise<void> => {
      await weft?.dispose();
      weft = undefined;
    },
  };
}

/** The tensors still live, but for the zero-length past tensors core shares across runs (never disposed). */
export function leaked(live: ReadonlySet<BackendTensor>): BackendTensor[] {
  return [...live].filter((t) => !(t.data.length === 0 && t.dims[2] === 0));
}

/** Waits, across event-loop turns, until `done()` holds (at most ~2000 turns, then returns). */
export async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
}

/**
 * For a run given up on while `backend` holds its forward pass: it still counts in `activeRuns`
 * and holds its feeds and cache; once the pass is let through, it ends and leaks nothing.
 */
export async function expectHeldThenReleased(model: WeftModel, backend: HoldingBackend): Promise<void> {
  expect(model.activeRuns).toBe(1);
  expect(leaked(backend.live)).not.toEqual([]);
  backend.runs.open();
  await until(() => model.activeRuns === 0);
  expect(model.activeRuns).toBe(0);
  expect(leaked(backend.live)).toEqual([]);
}

/**
 * For a model disposed while `backend` holds its forward pass: the session is not freed under the
 * run; once the pass is let through it is released, the run ends and nothing leaks.
 */
export async function expectReleasedAfterPass(model: WeftModel, backend: HoldingBackend): Promise<void> {
  expect(backend.events).toEqual(['opened']);
  backend.runs.open();
  await until(() => backend.events.includes('released') && model.activeRuns === 0);
  expect(backend.events).toEqual(['opened', 'released']);
  expect(model.activeRuns).toBe(0);
  expect(leaked(backend.live)).toEqual([]);
}
