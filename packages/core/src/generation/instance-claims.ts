import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { RunComponents } from './resolve-components.js';

/** Store and router instances passed in requests, while a run uses them. */
const inUse = new WeakSet<object>();
const NONE: readonly object[] = Object.freeze([]);

/**
 * Claims the request's own store and router instances for one run. They keep one run's state
 * (the cache, the kept slots), so a second run on the same instance, e.g. a second subscription to
 * the same Observable, would corrupt the first: it fails here instead. Instances made from registry
 * entries (new, or an idle pooled `reusable` store) belong to one run and are not claimed.
 */
export function claimInstances(components: RunComponents): readonly object[] {
  const { kv, router } = components;
  const kvOwn = kv.owner === 'request';
  const routerOwn = router?.owner === 'request';
  if (!kvOwn && !routerOwn) return NONE;
  const claimed: object[] = [];
  if (kvOwn) claim(kv.value, 'kv', 'KV-cache store', claimed);
  if (routerOwn) claim(router!.value, 'router', 'attention router', claimed);
  return claimed;
}

/** Gives back what `claimInstances` claimed. */
export function releaseInstances(claimed: readonly object[]): void {
  for (let i = 0; i < claimed.length; i++) inUse.delete(claimed[i]!);
}

function claim(instance: object, option: 'kv' | 'router', what: string, claimed: object[]): void {
  if (inUse.has(instance)) {
    releaseInstances(claimed);
    throw new InvalidOptionsError(
      `This ${what} instance is already in use by another run; an instance holds one run's state. Pass its registered name (a new instance per run) or a new instance per request.`,
      { option },
    );
  }
  inUse.add(instance);
  claimed.push(instance);
}
