import { checkKnownKeys, DEFAULT_CAPABILITY, definePlugin, InvalidOptionsError, isOptionsObject, quoteValue, readOwnOptions, REUSABLE_CAPABILITY, type KvCacheStore, type WeftPlugin } from '@weft/core';
import { Fp16KvStore, Int4KvStore, Int8KvStore, KiviKvStore, TemporalKvStore, type IntKvOptions, type KiviKvOptions } from './stores/stores.js';

import { VERSION } from './version.js';

export { VERSION };

type Options = Readonly<Record<string, unknown>>;

/** Every store of this package: registry name, description, factory. */
export const KV_COMPRESSORS: readonly { readonly name: string; readonly description: string; create(options?: Options): KvCacheStore }[] = [
  { name: 'fp16', description: 'IEEE half precision (2 bytes per value)', create: (o) => new Fp16KvStore(o) },
  { name: 'int8', description: 'int8 per token, fp16 scale/zero per group of 64 channels (options: group, scales)', create: (o) => new Int8KvStore(o) },
  { name: 'int4', description: 'int4 per token, fp16 scale/zero per group of 32 channels (options: group, scales)', create: (o) => new Int4KvStore(o) },
  {
    name: 'kivi',
    description: 'KIVI: 2-bit keys per channel, values per token, float32 residual (options: bits, group, residual, residualPrecision, scales)',
    create: (o) => new KiviKvStore(o),
  },
  {
    name: 'temporal',
    description: 'precision falls with age: 64 newest fp32, next 192 int8, older int4 (options: fp32, fp16, int8, int4, rest, group, scales)',
    create: (o) => new TemporalKvStore(o),
  },
];

/** Options of {@link kvCompressors}. */
export interface KvCompressorsOptions {
  /** Registry priority of the entries (default 0). */
  readonly priority?: number;
}

/**
 * Registers the `kv-cache` stores `fp16`, `int8`, `int4`, `kivi` and `temporal`; a request picks
 * one with `kv: 'int4'` or `kv: { name: 'kivi', options: { residual: 128 } }`.
 *
 * @example createWeft({ plugins: [nodeBackend(), kvCompressors()] })
 */
export function kvCompressors(options: KvCompressorsOptions = {}): WeftPlugin {
  if (!isOptionsObject(options)) {
    throw new InvalidOptionsError(`kvCompressors options must be an object such as { priority: 10 } (got ${quoteValue(options)}).`, { option: 'options' });
  }
  // Read once, own properties only; a getter or proxy trap that throws is an InvalidOptionsError.
  const given = readOwnOptions(options, '', { what: 'kvCompressors options', option: (key) => key ?? 'options' });
  // A misspelled option (`prio`) would otherwise be ignored without a word.
  checkKnownKeys(given, ['priority'], 'kvCompressors', '');
  // Checked here, as nodeBackend checks it, rather than later inside createWeft (null was taken as 0).
  const priority = given['priority'];
  if (priority !== undefined && !(typeof priority === 'number' && Number.isFinite(priority))) {
    throw new InvalidOptionsError(`priority must be a finite number (got ${quoteValue(priority)}).`, { option: 'priority' });
  }
  return definePlugin({
    name: '@weft/plugin-kv',
    version: VERSION,
    apiVersion: '^0.1.0',
    description: 'KV-cache compressors: fp16, int8, int4, kivi, temporal',
    setup(ctx) {
      for (const entry of KV_COMPRESSORS) {
        ctx.register('kv-cache', {
          name: entry.name,
          priority: priority ?? 0,
          capabilities: ['compressed'],
          description: entry.description,
          create: (o) => entry.create(o),
        });
      }
    },
  });
}

/** Options of {@link kvQuant}: the code width picks the store, the rest are its options. */
export type KvQuantOptions =
  | ({ readonly bits: 8 } & IntKvOptions)
  | ({ readonly bits: 4 } & IntKvOptions)
  | ({ readonly bits: 2 } & Omit<KiviKvOptions, 'bits'>);

/** Registry name of the store {@link kvQuant} registers. */
export const KV_QUANT_ENTRY = 'kv-quant';

/**
 * Makes a quantised cache the default of the runtime: `bits: 8` → `int8`, `4` → `int4`, `2` →
 * `kivi` (2-bit), with the other options passed to that store. Registered as `kv-quant` with the
 * `default` capability, so every request that names no `kv` uses it (requests may still name any
 * store, and `{ name: 'kv-quant', options }` overrides single options; `bits` it may repeat, not change).
 *
 * @example createWeft({ plugins: [nodeBackend(), kvQuant({ bits: 4 }), sinkWindow({ window: 256 })] })
 */
export function kvQuant(options: KvQuantOptions): WeftPlugin {
  if (!isOptionsObject(options)) {
    // Said before reading `bits`: "bits … (got undefined)" blamed a field the caller never wrote.
    throw new InvalidOptionsError(`kvQuant takes an options object { bits: 8, 4 or 2, ...store options } such as { bits: 4 } (got ${quoteValue(options)}).`, { option: 'options' });
  }
  // Own properties only, each read once (an inherited `bits` is not an option given, as for the
  // stores); a getter or proxy trap that throws is an InvalidOptionsError naming the option.
  const { bits: given, ...rest } = readOwnOptions(options, '', { what: 'kvQuant options', option: (key) => key ?? 'options' });
  const bits = bitsValue(given);
  const make: (o: Options) => KvCacheStore =
    bits === 8
      ? (o) => new Int8KvStore(o)
      : bits === 4
        ? (o) => new Int4KvStore(o)
        : bits === 2
          ? (o) => new KiviKvStore({ ...o, bits: 2 })
          : () => {
              throw new InvalidOptionsError(`kvQuant: bits must be 8, 4 or 2 (got ${quoteValue(given)}).`, { option: 'bits' });
            };
  make(rest); // validates the options now, where the plugin is written
  const store = bits === 8 ? 'int8' : bits === 4 ? 'int4' : 'kivi';
  return definePlugin({
    name: '@weft/plugin-kv.quant',
    version: VERSION,
    apiVersion: '^0.1.0',
    description: `default KV cache: ${store}`,
    setup(ctx) {
      ctx.register('kv-cache', {
        name: KV_QUANT_ENTRY,
        priority: 10,
        capabilities: [DEFAULT_CAPABILITY, REUSABLE_CAPABILITY, 'compressed', store],
        description: `${store} (${JSON.stringify(rest)}), the runtime default`,
        create: (requested) => {
          // A request's options, read once: a getter or proxy trap that throws is an InvalidOptionsError.
          const o =
            isOptionsObject(requested)
              ? readOwnOptions(requested, 'kv', { what: `Options of "${KV_QUANT_ENTRY}"`, label: (key) => `Option ${quoteValue(key)} of "${KV_QUANT_ENTRY}"`, option: (key) => (key === undefined ? 'kv' : `kv.${key}`) })
              : requested;
          // The bit width picks the store, and that is fixed when the plugin is written: a request
          // may repeat it (as a number or a decimal string, as the CLI gives it), not change it.
          if (o !== undefined && o !== null && Object.hasOwn(o, 'bits')) {
            const { bits: asked, ...others } = o as Options;
            if (asked !== undefined && bitsValue(asked) !== bits) {
              throw new InvalidOptionsError(
                `"${KV_QUANT_ENTRY}" is ${store}, chosen by kvQuant({ bits: ${String(bits)} }); a request cannot change its bits. Name another store instead (int8, int4 or kivi).`,
                { option: 'kv.bits' },
              );
            }
            return make({ ...rest, ...others });
          }
          return make({ ...rest, ...(o ?? {}) });
        },
      });
    },
  });
}

/** A `bits` option as given: a decimal string is taken as the store options take one (`'4'`). */
function bitsValue(given: unknown): unknown {
  return typeof given === 'string' && /^\s*[+-]?\d+\s*$/.test(given) ? Number(given) : given;
}
