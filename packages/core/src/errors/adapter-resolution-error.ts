import type { Rejection } from '../spec/registry.js';
import { WeftError, hasCode } from './weft-error.js';

/** No registered adapter of a kind matched; lists every candidate and why it was rejected. */
export class AdapterResolutionError extends WeftError {
  declare readonly code: 'adapter-resolution';
  readonly kind: string;
  readonly rejections: readonly Rejection[];

  constructor(kind: string, wanted: string, rejections: readonly Rejection[], options: { cause?: unknown } = {}) {
    const list = rejections.length === 0
      ? `no ${kind} adapters are registered (add a plugin that provides one)`
      : `registered: ${rejections.map((r) => `${r.name} (${r.reason})`).join('; ')}`;
    super('adapter-resolution', `No ${kind} adapter matches ${wanted}: ${list}`, options);
    // A literal, not the class's own name, which a minifier renames (browser bundles).
    if (new.target === AdapterResolutionError) this.name = 'AdapterResolutionError';
    this.kind = kind;
    this.rejections = rejections;
  }

  static override isInstance(error: unknown): error is AdapterResolutionError {
    return hasCode(error, 'adapter-resolution');
  }
}
