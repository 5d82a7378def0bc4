/**
 * A request's `signal` is read at every step boundary, long after the request's own checks: an
 * AbortSignal-like whose `aborted` (or, in evaluate, `reason`) getter throws mid-run ends the run
 * with an InvalidOptionsError naming `signal` (the thrown value as its cause), not with whatever
 * the getter threw, and releases every tensor of the run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, type BackendTensor, type GenerationEvent, type WeftModel } from '../src/index.js';
import { collect, runtime, storyModel, wrappedNodeBackend } from './helpers.js';

const live = new Set<BackendTensor>();
const weft = runtime([wrappedNodeBackend({ name: 'counting', priority: 1000, liveTensors: live })]);
let model: WeftModel;
beforeAll(async () => {
  model = await weft.load(storyModel);
});
afterAll(() => weft.dispose());

/** The zero-length past tensors of a first step are shared by later runs; anything else still live leaked. */
const leaked = (): BackendTensor[] => [...live].filter((t) => !(t.data.length === 0 && t.dims[2] === 0));

/** A signal whose `aborted` reads false `reads` times (the request's check, then steps), then throws. */
function abortedThrowsAfter(reads: number): { signal: AbortSignal; thrown: Error } {
  const thrown = new Error('aborted is gone');
  let count = 0;
  const signal = {
    get aborted() {
      if (count++ < reads) return false;
      throw thrown;
    },
  } as unknown as AbortSignal;
  return { signal, thrown };
}

function expectSignalError(error: unknown, thrown: unknown, message: RegExp): void {
  expect(InvalidOptionsError.isInstance(error), String(error)).toBe(true);
  expect(error).toMatchObject({ option: 'signal', cause: thrown });
  expect((error as Error).message).toMatch(message);
}

describe('a signal whose getters throw once the run is going', () => {
  it.each([
    ['before a forward pass', 3],
    ['after a forward pass', 4],
  ])('ends a generation with an InvalidOptionsError naming signal (%s), leaking no tensor', async (_, reads) => {
    const { signal, thrown } = abortedThrowsAfter(reads);
    const events: GenerationEvent[] = [];
    const error = await collect({
      subscribe: (o) => model.generate({ prompt: 'Once upon a time', maxTokens: 20, ignoreEos: true, signal }).subscribe({ ...o, next: (e) => (events.push(e), o.next(e)) }),
    }).then(() => undefined, (e: unknown) => e);
    expectSignalError(error, thrown, /^signal\.aborted could not be read: aborted is gone$/);
    // It got past the request's checks: the run had started and emitted tokens.
    expect(events.some((e) => e.type === 'token')).toBe(true);
    expect(leaked()).toEqual([]);
  });

  it('ends an evaluation with an InvalidOptionsError naming signal, leaking no tensor', async () => {
    const { signal, thrown } = abortedThrowsAfter(3);
    const error = await model.evaluate({ inputIds: model.tokenizer.encode('Once upon a time there was a cat'), signal }).then(() => undefined, (e: unknown) => e);
    expectSignalError(error, thrown, /^signal\.aborted could not be read: aborted is gone$/);
    expect(leaked()).toEqual([]);
  });

  it('ends an aborted evaluation whose reason getter throws with an InvalidOptionsError naming signal', async () => {
    const thrown = new Error('no reason today');
    let reads = 0;
    const signal = {
      get aborted() {
        return reads++ > 1;
      },
      get reason(): unknown {
        throw thrown;
      },
    } as unknown as AbortSignal;
    const error = await model.evaluate({ inputIds: model.tokenizer.encode('Once upon a time there was a cat'), signal }).then(() => undefined, (e: unknown) => e);
    expectSignalError(error, thrown, /^signal\.reason could not be read: no reason today$/);
    expect(leaked()).toEqual([]);
  });
});
