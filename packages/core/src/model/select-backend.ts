import { AdapterResolutionError } from '../errors/adapter-resolution-error.js';
import { runStage } from '../generation/stage-runner.js';
import type { BackendAdapter } from '../spec/backend.js';
import type { AdapterRegistry, Rejection } from '../spec/registry.js';

/** The backend chosen for a model, the ones passed over (with reasons), and the usable rest. */
export interface BackendSelection {
  readonly adapter: BackendAdapter;
  readonly rejected: readonly Rejection[];
  /** Other available backends in priority order (failover candidates; probed only when asked). */
  readonly others: readonly BackendAdapter[];
}

/**
 * Picks a backend: by name, or for `auto` the highest-priority registered backend whose probe
 * says it is available here. Backends after the choice are probed only when `probeOthers` is
 * set (failover needs them); otherwise they are listed as not probed. Fails with every candidate
 * and the reason it was rejected.
 */
export async function selectBackend(registry: AdapterRegistry, wanted: string, probeOthers = false): Promise<BackendSelection> {
  const rejected: Rejection[] = [];
  const others: BackendAdapter[] = [];
  let adapter: BackendAdapter | undefined;
  for (const entry of registry.list('backend')) {
    const candidate = wanted === 'auto' || entry.name === wanted;
    if (!candidate && !probeOthers) {
      rejected.push({ name: entry.name, reason: 'different name' });
      continue;
    }
    if (adapter && !probeOthers) {
      rejected.push({ name: entry.name, reason: 'lower priority (not probed)' });
      continue;
    }
    const created = runStage(entry.owner, `backend "${entry.name}" create`, () => entry.create());
    const probe = await created.probe().catch((e: unknown) => ({ available: false, reason: `probe threw: ${(e as Error).message}` }));
    if (!probe.available) {
      rejected.push({ name: entry.name, reason: `unavailable: ${probe.reason ?? 'no reason given'}` });
    } else if (candidate && !adapter) {
      adapter = created;
    } else {
      others.push(created);
      rejected.push({ name: entry.name, reason: candidate ? 'lower priority' : 'different name' });
    }
  }
  if (!adapter) throw new AdapterResolutionError('backend', wanted === 'auto' ? 'auto' : `"${wanted}"`, rejected);
  return { adapter, rejected, others };
}
