import { describe, expect, it } from 'vitest';
import { BackendError, RunsInFlight } from '../src/index.js';

/** A promise and the functions that settle it. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (cause: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Whether `promise` has settled once pending callbacks have run. */
async function settledYet(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setImmediate(r));
  return settled;
}

describe('RunsInFlight', () => {
  it('passes a run\'s outcome through while open', async () => {
    const runs = new RunsInFlight();
    await expect(runs.track(Promise.resolve(7))).resolves.toBe(7);
    await expect(runs.track(Promise.reject(new Error('graph failed')))).rejects.toThrow('graph failed');
  });

  it('closes at once when nothing is in flight (a release may start in the same turn)', async () => {
    const runs = new RunsInFlight();
    await runs.track(Promise.resolve('done'));
    expect(runs.close()).toBeUndefined();
  });

  it('close waits for every run in flight; one that finishes afterwards rejects, one that fails keeps its cause', async () => {
    const runs = new RunsInFlight();
    const a = deferred<string>();
    const b = deferred<string>();
    const first = runs.track(a.promise).then((v) => v, (e: Error) => e.message);
    const second = runs.track(b.promise).then((v) => v, (e: Error) => e.message);
    const closed = runs.close()!;
    const closedAgain = runs.close()!;
    expect(closed).toBeInstanceOf(Promise);
    a.resolve('outputs');
    expect(await settledYet(closed)).toBe(false); // b is still running
    b.reject(new Error('device lost'));
    await Promise.all([closed, closedAgain]);
    expect(await first).toMatch(/released while it ran; load the model again/);
    expect(await second).toBe('device lost');
  });
});

describe('RunsInFlight: the error of a run that finished after close', () => {
  it('is a BackendError naming the backend given, with the same actionable message', async () => {
    const runs = new RunsInFlight(undefined, 'node');
    const late = deferred<string>();
    const outcome = runs.track(late.promise).catch((e: unknown) => e);
    const closed = runs.close()!;
    late.resolve('outputs');
    await closed;
    const error = await outcome;
    // Before: a plain Error, which reached a direct caller of session.run untyped.
    expect(BackendError.isInstance(error)).toBe(true);
    expect((error as BackendError).backend).toBe('node');
    expect((error as Error).message).toBe('This session was released while it ran; load the model again.');
  });
});

describe('RunsInFlight discard', () => {
  it('hands the outputs of a run that finished after close to discard, once; earlier runs keep theirs', async () => {
    const discarded: unknown[] = [];
    const runs = new RunsInFlight((outputs) => discarded.push(outputs));
    await expect(runs.track(Promise.resolve('kept'))).resolves.toBe('kept');
    const late = deferred<string>();
    const outcome = runs.track(late.promise).catch((e: Error) => e.message);
    const closed = runs.close()!;
    late.resolve('late outputs');
    await closed;
    expect(await outcome).toMatch(/released while it ran/);
    expect(discarded).toEqual(['late outputs']);
  });
});

describe('RunsInFlight.closeThen', () => {
  it('releases in the same turn when nothing is in flight, and after the runs settle otherwise', async () => {
    const idle = new RunsInFlight();
    const log: string[] = [];
    const released = idle.closeThen(() => void log.push('release'));
    expect(log).toEqual(['release']);
    await released;

    const busy = new RunsInFlight();
    const run = deferred<string>();
    const outcome = busy.track(run.promise).then((v) => v, (e: Error) => e.message);
    const later = busy.closeThen(async () => void log.push('release after the run'));
    expect(log).toEqual(['release']);
    run.resolve('outputs');
    await later;
    expect(log).toEqual(['release', 'release after the run']);
    expect(await outcome).toMatch(/released while it ran/);
  });

  it('rejects with what the release threw', async () => {
    await expect(new RunsInFlight().closeThen(() => {
      throw new Error('device gone');
    })).rejects.toThrow('device gone');
  });
});
