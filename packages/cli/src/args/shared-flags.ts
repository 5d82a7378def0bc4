import type { OptionSpecs, ParsedFlags } from './parse-command-args.js';
import { parseNamedRef, type NamedRef } from '@weft/core';
import { optional, parseInteger } from './numbers.js';
import { UsageError } from '../errors.js';
import { BACKENDS, type BackendChoice } from '../open-model.js';
import { expandHome } from './home-path.js';
import { parsePluginSpec, type PluginSpec } from '../plugins/plugin-spec.js';
import { unknownName } from './suggest.js';

/** `--model DIR`, `--threads N`, `--backend NAME` and `--plugin SPEC`, which every model command takes. */
export const MODEL_OPTIONS = {
  model: { type: 'string' },
  threads: { type: 'string' },
  backend: { type: 'string' },
  plugin: { type: 'string', multiple: true },
} as const satisfies OptionSpecs;

export interface ModelFlags {
  /** `--model` as given, with a leading `~` or `~/` made the home directory (see {@link expandHome}). */
  readonly model: string | undefined;
  /** onnxruntime intra-op threads; undefined (or 0) is the runtime's default. */
  readonly threads: number | undefined;
  /**
   * `--backend`; undefined means the command's default. One of {@link BACKENDS}, unless a
   * `--plugin` is given: a plugin may register another backend, so the name is checked once the
   * plugins are installed (`openModel`).
   */
  readonly backend: BackendChoice | undefined;
  /** `--plugin SPEC[:k=v,…]` (repeatable), in the order given; imported by the command (`loadPlugins`). */
  readonly plugins: readonly PluginSpec[];
}

export function modelFlags(flags: ParsedFlags): ModelFlags {
  const backend = flags.string('backend');
  const plugins = flags.strings('plugin').map(parsePluginSpec);
  if (backend !== undefined && (backend.trim() === '' || (plugins.length === 0 && !(BACKENDS as readonly string[]).includes(backend)))) {
    throw new UsageError(unknownName('--backend', 'backend', backend, BACKENDS));
  }
  const model = flags.string('model');
  return {
    model: model === undefined ? undefined : expandHome(model, '--model'),
    threads: optional(flags.string('threads'), (t) => parseInteger('threads', t, 0, 1024)),
    backend,
    plugins,
  };
}

/** `--kv NAME[:k=v,…]`, `--router NAME[:k=v,…]` and `--onnx-file F`: how generate and eval build the pipeline. */
export const PIPELINE_OPTIONS = {
  kv: { type: 'string' },
  router: { type: 'string' },
  'onnx-file': { type: 'string' },
} as const satisfies OptionSpecs;

export interface PipelineFlags {
  readonly kv: Exclude<NamedRef, string> | undefined;
  readonly router: Exclude<NamedRef, string> | undefined;
  /** Graph file within the model folder (default: onnx/model.onnx, or the attention variant when the router needs attentions). */
  readonly onnxFile: string | undefined;
}

export function pipelineFlags(flags: ParsedFlags): PipelineFlags {
  const ref = (name: 'kv' | 'router') => optional(flags.string(name), (t) => parseNamedRef(t, `--${name}`));
  return { kv: ref('kv'), router: ref('router'), onnxFile: onnxFileFlag(flags) };
}

/** `--onnx-file`, refused when empty (it would otherwise load the default graph without a word). */
export function onnxFileFlag(flags: ParsedFlags): string | undefined {
  const onnxFile = flags.string('onnx-file');
  if (onnxFile === '') throw new UsageError('--onnx-file needs a graph file within the model folder, such as onnx/model.onnx');
  return onnxFile;
}

/** Drops undefined fields, so optional properties stay absent (exactOptionalPropertyTypes). */
export function compact<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
