import type { OptionSpecs, ParsedFlags } from './parse-command-args.js';
import { optional, parseInteger } from './numbers.js';
import { UsageError } from '../errors.js';
import { BACKENDS, type BackendChoice } from '../open-model.js';

/** `--model DIR` and `--threads N`, which every model command takes. */
export const MODEL_OPTIONS = {
  model: { type: 'string' },
  threads: { type: 'string' },
  backend: { type: 'string' },
} as const satisfies OptionSpecs;

export interface ModelFlags {
  readonly model: string | undefined;
  /** onnxruntime intra-op threads; undefined (or 0) is the runtime's default. */
  readonly threads: number | undefined;
  /** `--backend`; undefined means the command's default. */
  readonly backend: BackendChoice | undefined;
}

export function modelFlags(flags: ParsedFlags): ModelFlags {
  const backend = flags.string('backend');
  if (backend !== undefined && !(BACKENDS as readonly string[]).includes(backend)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')} (got "${backend}")`);
  }
  return {
    model: flags.string('model'),
    threads: optional(flags.string('threads'), (t) => parseInteger('threads', t, 0, 1024)),
    backend: backend as BackendChoice | undefined,
  };
}

/** Drops undefined fields, so optional properties stay absent (exactOptionalPropertyTypes). */
export function compact<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
