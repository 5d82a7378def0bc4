import { AdapterResolutionError } from '../errors/adapter-resolution-error.js';
import type { BackendAdapter } from '../spec/backend.js';
import type { AdapterRegistry, Rejection } from '../spec/registry.js';
import { runStage } from '../generation/stage-runner.js';

/**
 * Picks a backend: by name, or for `auto` the highest-priority registered backend whose probe
 * says it is available here. Fails with every candidate and the reason it was rejected.
 */
export async function selectBackend(registry: AdapterRegistry, wanted: string): Promise<BackendAdapter> {
  const rejections: Rejection[] = [];
  for (const entry of registry.list('backend')) {
    if (wanted !== 'auto' && entry.name !== wanted) {
      rejections.push({ name: entry.name, reason: 'different name' });
      continue;
    }
    const adapter = runStage(entry.owner, `backend "${entry.name}" create`, () => entry.create());
    const probe = await adapter.probe().catch((e: unknown) => ({ available: false, reason: `probe threw: ${(e as Error).message}` }));
    if (probe.available) return adapter;
    rejections.push({ name: entry.name, reason: `unavailable: ${probe.reason ?? 'no reason given'}` });
  }
  throw new AdapterResolutionError('backend', wanted === 'auto' ? 'auto' : `"${wanted}"`, rejections);
}
