import { BackendError } from '../errors/backend-error.js';
import { LateRelease } from '../backend/run-waiter.js';
import type { BackendTensor } from '../spec/backend.js';
import type { GenerationContext } from './generation-context.js';

// What a generation does with a forward pass that passed `failover.runTimeoutMs` and goes on
// running: what it was fed is freed only once it settles (see `FailoverOptions.runTimeoutMs`).

/**
 * Hands the feeds of a step whose run timed out to a {@link LateRelease}: `owned` and each list
 * of `made` (re-rotated keys, float16 copies) are disposed once `run` settles. Returns the release,
 * to which the store the run read is added when it is let go. Only on a timeout.
 */
export function releaseFeedsLate(
  ctx: GenerationContext,
  run: Promise<unknown>,
  owned: Readonly<Record<string, BackendTensor>>,
  made: readonly (readonly BackendTensor[])[],
): LateRelease {
  const late = new LateRelease(ctx.sessions, run, ctx.activity);
  late.add(() => {
    for (const name in owned) owned[name]!.dispose();
    for (const list of made) for (const t of list) t.dispose();
  });
  return late;
}

/**
 * The error of a stream whose request passed its store instance, when the run that timed out on
 * `backend` still had not settled after another run timeout: the store cannot be begun again.
 */
export function storeStillRead(backend: string): BackendError {
  return new BackendError(
    `The run on ${backend} passed its timeout and still holds the KV store instance the request passed, so the stream cannot go on; pass the store by name ({ name, options }) so a timed-out run's store can be replaced.`,
    { backend },
  );
}
