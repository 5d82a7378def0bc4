import { PluginError } from '../errors/plugin-error.js';
import type { BackendTensor } from '../spec/backend.js';
import { quoteValue } from '../util/describe-cause.js';

/**
 * After a `beforeForward` hook: every graph input still has a tensor. A hook that deleted or
 * replaced one fails its stream with a `PluginError` naming it, rather than the forward pass
 * failing as if the backend were at fault (which would also count against its circuit breaker).
 */
export function checkHookFeeds(owner: string, inputNames: readonly string[], feeds: Readonly<Record<string, BackendTensor>>): void {
  for (let i = 0; i < inputNames.length; i++) {
    const name = inputNames[i]!;
    const value = feeds[name] as unknown;
    if (!isTensor(value)) {
      const what = value === undefined ? `removed the feed "${name}"` : `set the feed "${name}" to ${quoteValue(value)}, which is not a tensor`;
      throw new PluginError(owner, 'beforeForward', `${what}; hooks may add feeds or replace one with another tensor, but every graph input needs a tensor.`);
    }
  }
}

function isTensor(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  try {
    const { dims, type } = value as { dims?: unknown; type?: unknown };
    return Array.isArray(dims) && typeof type === 'string';
  } catch {
    return false; // a value whose reads throw (a hostile proxy) is no tensor
  }
}
