import type { BackendTensor } from '../spec/backend.js';

/** Splits a run's outputs into the `present.*` tensors (for the KV store) and the rest. */
export function splitPresents(
  outputs: Readonly<Record<string, BackendTensor>>,
  presentNames: ReadonlySet<string>,
): { presents: Record<string, BackendTensor>; rest: Record<string, BackendTensor> } {
  const presents: Record<string, BackendTensor> = {};
  const rest: Record<string, BackendTensor> = {};
  for (const name in outputs) {
    if (presentNames.has(name)) presents[name] = outputs[name]!;
    else rest[name] = outputs[name]!;
  }
  return { presents, rest };
}
