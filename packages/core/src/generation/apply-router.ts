import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { PluginError } from '../errors/plugin-error.js';
import type { AttentionRouter, KvSelection } from '../spec/attention-router.js';
import type { KvCacheStore, KvLayout } from '../spec/kv-cache.js';
import { validateSelection } from './kv/gather-slots.js';
import type { Owned } from './resolve-components.js';
import { runStage, synchronousResult } from './stage-runner.js';
import { storeLength, storeSlotPositions } from './kv/store-calls.js';

/**
 * After the store appended a step: asks the router which slots to keep and has the store evict
 * the rest. Per-head selections need rows without padding (one attention mask serves all heads).
 */
export function applyRouter(
  router: Owned<AttentionRouter>,
  kv: Owned<KvCacheStore>,
  context: {
    readonly step: number;
    readonly batchSize: number;
    readonly layout: KvLayout;
    readonly nextPosition: number;
    readonly padded: boolean;
    /** Left padding per row and whether each row was fed real ids this step (frozen, passed on as they are). */
    readonly padding: readonly number[];
    readonly active: readonly boolean[];
    readonly importance: Float32Array | undefined;
  },
): void {
  const store = kv.value;
  const positions = storeSlotPositions(kv, context.layout.numKvHeads);
  const cacheLength = storeLength(kv);
  const heads = context.layout.numKvHeads;
  const stage = `router "${router.name}" select`;
  // Checked inside the stage: a selection whose property reads throw names the router too.
  const selection = runStage(router.owner, stage, () => {
    const chosen: unknown = synchronousResult(router.owner, stage, router.value.select({
      step: context.step,
      batchSize: context.batchSize,
      layout: context.layout,
      cacheLength,
      slotPositions: positions,
      nextPosition: context.nextPosition,
      padding: context.padding,
      active: context.active,
      ...(context.importance ? { importance: context.importance } : {}),
    }));
    if (chosen === undefined || chosen === null) return undefined;
    const problem = validateSelection(chosen, cacheLength, heads);
    if (problem) throw new PluginError(router.owner, stage, invalidSelection(problem, cacheLength, heads));
    return chosen as KvSelection;
  });
  if (!selection) return;
  if (selection.kind === 'per-head' && context.padded) {
    throw new InvalidOptionsError(`The router "${router.name}" selects per head, which needs prompts of equal length (no left padding).`, { option: 'router' });
  }
  if (!store.retain) {
    throw new InvalidOptionsError(`The KV store "${kv.name}" cannot evict positions, so it cannot be used with the router "${router.name}".`, { option: 'router' });
  }
  runStage(kv.owner, 'kv retain', () => store.retain!(selection));
}

/** What is wrong with a selection, and what a valid one looks like. */
function invalidSelection(problem: string, cacheLength: number, heads: number): string {
  const range = cacheLength > 0 ? `0..${cacheLength - 1}` : 'none: the cache is empty';
  return (
    `select() returned an invalid selection: ${problem}. Return undefined to keep every slot, ` +
    `{ kind: 'shared', slots } with strictly ascending integer slot indices (${range}), or ` +
    `{ kind: 'per-head', slots } with one such list per key/value head (${heads}), all of equal length.`
  );
}
