import { BackendError } from '../errors/backend-error.js';
import type { BackendTensor, InferenceSession } from '../spec/backend.js';
import type { KvLayout } from '../spec/kv-cache.js';
import type { OutputsCheck } from '../backend/session-pool.js';

type TensorMaker = Pick<InferenceSession, 'createTensor'>;

/** Per session: its `num_logits_to_keep` tensor of value 1. */
const keepLast = new WeakMap<TensorMaker, BackendTensor>();

/**
 * The `num_logits_to_keep` / `logits_to_keep` feed of value `count`, in the type and dims the
 * graph declares (`layout.logitsToKeep`, which must be set). Owned by the caller.
 */
export function logitsToKeepTensor(session: TensorMaker, layout: KvLayout, count: number): BackendTensor {
  const { type, dims } = layout.logitsToKeep!;
  return type === 'int32' ? session.createTensor('int32', Int32Array.of(count), dims) : session.createTensor('int64', BigInt64Array.of(BigInt(count)), dims);
}

/**
 * The feed of value 1 (logits of each row's last position only, all generation reads), made once
 * per session and shared by every step and run after: graphs only read their inputs, so feeding
 * the same object again is safe, and a decode step allocates nothing for it. Never dispose it.
 */
export function sharedKeepLastLogits(session: TensorMaker, layout: KvLayout): BackendTensor {
  let tensor = keepLast.get(session);
  if (!tensor) keepLast.set(session, (tensor = logitsToKeepTensor(session, layout, 1)));
  return tensor;
}

/**
 * Throws a `BackendError` unless `outputs.logits` (when there is one: its absence is reported
 * after the run) is `[rows, positions, vocab]` with as many values, `positions` from `least`
 * (default 1) to `fed` (the fed length, or fewer where the graph keeps only the last ones): logits
 * of another size would otherwise be sliced into rows of the wrong tokens without a word. A few
 * comparisons per step, no allocation; the outputs are disposed when it throws.
 */
export function checkLogits(outputs: Readonly<Record<string, BackendTensor>>, rows: number, fed: number, vocab: number, backend: string, least = 1): void {
  const logits = outputs['logits'];
  if (logits === undefined) return;
  let dims: readonly number[] | undefined;
  let length: number | undefined;
  try {
    dims = logits.dims;
    length = logits.data.length;
    const seq = dims[1]!;
    if (dims.length === 3 && dims[0] === rows && dims[2] === vocab && seq >= least && seq <= fed && length === rows * seq * vocab) return;
  } catch {
    // A tensor whose dims or data cannot be read: reported as such below.
  }
  for (const name in outputs) {
    try {
      outputs[name]!.dispose();
    } catch {
      // The error below is what the caller needs.
    }
  }
  const shape = Array.isArray(dims) ? `[${dims.slice(0, 8).join(', ')}${dims.length > 8 ? ', …' : ''}]` : 'unreadable dims';
  const expected = least === fed ? `[${rows}, ${fed}, ${vocab}]` : `[${rows}, ${least} to ${fed}, ${vocab}]`;
  throw new BackendError(
    `The ${backend} backend returned "logits" of shape ${shape} with ${typeof length === 'number' ? length : 'unreadable'} values, where this step expects ${expected} ` +
      `(rows × positions × vocab_size ${vocab} from config.json); the backend or the graph does not match this model.`,
    { backend },
  );
}

/**
 * {@link checkLogits} as the `OutputsCheck` a request hands its runs (one object per request, its
 * {@link fed} and {@link least} set before each run), so that the pool counts logits of the wrong
 * size as the backend's failure (its circuit breaker) rather than its success.
 */
export class LogitsCheck implements OutputsCheck {
  /** Positions fed to the next run. */
  fed = 1;
  /** Positions of logits the next run must return at least. */
  least = 1;
  constructor(
    private readonly rows: number,
    private readonly vocab: number,
  ) {}

  check(outputs: Readonly<Record<string, BackendTensor>>, backend: string): void {
    checkLogits(outputs, this.rows, this.fed, this.vocab, backend, this.least);
  }
}
