import { describe, expect, it } from 'vitest';
import { linkedAbortController } from '../src/util/linked-abort.js';
import { fixture, runtime } from './helpers.js';

/**
 * Many concurrent loads on one runtime add no listener each to the runtime's ending signal (nor to
 * a caller's signal they share): Node warned `MaxListenersExceededWarning: … 11 abort listeners
 * added to [AbortSignal]` from the eleventh on.
 */

/** The `MaxListenersExceededWarning`s emitted while `work` runs (and a turn after). */
async function listenerWarnings(work: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (warning: Error): void => {
    if (warning.name === 'MaxListenersExceededWarning') seen.push(warning.message);
  };
  process.on('warning', onWarning);
  try {
    await work();
    await new Promise((resolve) => setTimeout(resolve, 20)); // warnings are emitted on the next tick
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

describe('concurrent loads and abort listeners', () => {
  it('12 concurrent loads of one runtime, sharing one caller signal, emit no MaxListenersExceededWarning', async () => {
    const weft = runtime();
    const caller = new AbortController();
    try {
      const warnings = await listenerWarnings(async () => {
        const models = await Promise.all(Array.from({ length: 12 }, () => weft.load(fixture('tiny'), { signal: caller.signal })));
        expect(models).toHaveLength(12);
      });
      expect(warnings).toEqual([]);
    } finally {
      await weft.dispose();
    }
  }, 30_000);

  it('a linked controller aborts with its signal, and unlinking leaves the others linked', () => {
    const outer = new AbortController();
    const links = Array.from({ length: 20 }, () => linkedAbortController(outer.signal));
    links[0]!.unlink();
    links[0]!.unlink(); // twice is fine
    outer.abort('stop');
    expect(links[0]!.signal.aborted).toBe(false);
    for (const link of links.slice(1)) expect(link.signal.reason).toBe('stop');
  });

  it('links to a signal again after every earlier link was unlinked', () => {
    const outer = new AbortController();
    for (const link of Array.from({ length: 15 }, () => linkedAbortController(outer.signal))) link.unlink();
    const late = linkedAbortController(undefined, outer.signal);
    outer.abort('late');
    expect(late.signal.reason).toBe('late');
    const after = linkedAbortController(outer.signal);
    expect(after.signal.reason).toBe('late');
  });
});
