import { AdapterResolutionError } from '../errors/adapter-resolution-error.js';
import { runStage } from '../generation/stage-runner.js';
import type { BackendAdapter } from '../spec/backend.js';
import type { AdapterRegistry, Rejection } from '../spec/registry.js';

/** The backend chosen for a model, the ones passed over (with reasons), and the usable rest. */
export interface BackendSelection {
  readonly adapter: BackendAdapter;
  readonly rejected: readonly Rejection[];
  /** Other available backends in priority order (failover candidates). */
  readonly others: readonly BackendAdapter[];
}

/**
 * Picks a backend: by name, or for `auto` the highest-priority registered backend whose probe
 * says it is available here. Fails with every candidate and the reason it was rejected.
 */
export async function selectBackend(registry: AdapterRegistry, wanted: string): Promise<BackendSelection> {
  const rejected: Rejection[] = [];
  const available: BackendAdapter[] = [];
  for (const entry of registry.list('backend')) {
    const adapter = runStage(entry.owner, `backend "${entry.name}" create`, () => entry.create());
    const probe = await adapter.probe().catch((e: unknown) => ({ available: false, reason: `probe threw: ${(e as Error).message}` }));
    const chosen = available.length > 0 && (wanted === 'auto' || available.some((a) => a.name === wanted));
    if (!probe.available) {
      rejected.push({ name: entry.name, reason: `unavailable: ${probe.reason ?? 'no reason given'}` });
    } else {
      available.push(adapter);
      if (wanted !== 'auto' && entry.name !== wanted) rejected.push({ name: entry.name, reason: 'different name' });
      else if (chosen) rejected.push({ name: entry.name, reason: 'lower priority' });
    }
  }
  const adapter = wanted === 'auto' ? available[0] : available.find((a) => a.name === wanted);
  if (!adapter) throw new AdapterResolutionError('backend', wanted === 'auto' ? 'auto' : `"${wanted}"`, rejected);
  return { adapter, rejected, others: available.filter((a) => a !== adapter) };
}
