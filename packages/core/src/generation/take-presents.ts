import type { BackendTensor } from '../spec/backend.js';

/**
 * The `present.*` tensors of a run's outputs, keyed by name, for the KV store to take; every
 * other output (logits, attentions) is disposed here, unless `disposeOthers` is false (a session
 * whose tensors are garbage-collected). Data already read from them stays readable: disposing a
 * CPU tensor drops the tensor's hold on its buffer, not views taken of it.
 */
export function takePresents(
  outputs: Readonly<Record<string, BackendTensor>>,
  presentNames: ReadonlySet<string>,
  disposeOthers: boolean,
): Record<string, BackendTensor> {
  const presents: Record<string, BackendTensor> = {};
  for (const name in outputs) {
    const tensor = outputs[name]!;
    if (presentNames.has(name)) presents[name] = tensor;
    else if (disposeOthers) tensor.dispose();
  }
  return presents;
}
