import { ChannelBlockLane } from '../lanes/channel-block-lane.js';
import { Fp16Lane } from '../lanes/fp16-lane.js';
import { Fp32Lane } from '../lanes/fp32-lane.js';
import { GroupLane } from '../lanes/group-lane.js';
import { PaddedLane } from '../lanes/padded-lane.js';
import type { Lane } from '../lanes/lane.js';
import { TieredLane, type Tier } from '../lanes/tiered-lane.js';
import type { ParamPrecision, QuantBits } from '../quant/groups.js';
import { optionError, validateOptions, type OptionRules } from '../options.js';
import { LaneKvStore, type KvPart } from './lane-kv-store.js';

const MAX_GROUP = 4096;
const SCALES = { kind: 'enum', values: ['fp16', 'fp32'], default: 'fp16', help: 'precision of scales and zero points' } as const;

/** Options of `fp16`: none. */
export type Fp16KvOptions = Readonly<Record<string, never>>;

/** Every value stored as an IEEE half (round-to-nearest-even): 2 bytes per value. */
export class Fp16KvStore extends LaneKvStore {
  static readonly rules: OptionRules = {};
  readonly name = 'fp16';

  constructor(options: Fp16KvOptions | Readonly<Record<string, unknown>> = {}) {
    super();
    validateOptions('fp16', options, Fp16KvStore.rules);
  }

  protected createLane(_part: KvPart, _layer: number, dim: number): Lane {
    return new Fp16Lane(dim);
  }
}

/** Options of `int8` and `int4`. */
export interface IntKvOptions {
  /** Channels per group along head_dim, per token (capped at head_dim). int8: 64, int4: 32. */
  readonly group?: number;
  /** Precision of each group's scale and zero point (default fp16). */
  readonly scales?: ParamPrecision;
}

/** Per-token integer storage with a scale and zero point per group of channels. */
abstract class IntKvStore extends LaneKvStore {
  readonly options: Required<IntKvOptions>;

  constructor(
    readonly name: string,
    private readonly bits: 8 | 4,
    options: IntKvOptions | Readonly<Record<string, unknown>>,
    defaultGroup: number,
  ) {
    super();
    const rules: OptionRules = { group: { kind: 'int', min: 1, max: MAX_GROUP, default: defaultGroup }, scales: SCALES };
    const o = validateOptions(name, options, rules);
    this.options = { group: (o['group'] as number | undefined) ?? defaultGroup, scales: (o['scales'] as ParamPrecision | undefined) ?? 'fp16' };
  }

  protected createLane(_part: KvPart, _layer: number, dim: number): Lane {
    return new GroupLane(dim, this.bits, Math.min(this.options.group, dim), this.options.scales);
  }
}

/** int8 codes, groups of 64 channels (or head_dim if smaller) per token, fp16 scales and zero points. */
export class Int8KvStore extends IntKvStore {
  static readonly rules: OptionRules = { group: { kind: 'int', min: 1, max: MAX_GROUP, default: 64 }, scales: SCALES };
  constructor(options: IntKvOptions | Readonly<Record<string, unknown>> = {}) {
    super('int8', 8, options, 64);
  }
}

/** int4 codes (two per byte), groups of 32 channels per token, fp16 scales and zero points. */
export class Int4KvStore extends IntKvStore {
  static readonly rules: OptionRules = { group: { kind: 'int', min: 1, max: MAX_GROUP, default: 32 }, scales: SCALES };
  constructor(options: IntKvOptions | Readonly<Record<string, unknown>> = {}) {
    super('int4', 4, options, 32);
  }
}

/** Options of `kivi`. */
export interface KiviKvOptions {
  /** Code width: 2 (default) or 4. */
  readonly bits?: 2 | 4;
  /** G: tokens per key group (per channel) and channels per value group (per token). Default 32. */
  readonly group?: number;
  /** R: newest values kept in float32; keys leave in whole blocks of G once more than R wait (R ≥ G). Default 32. */
  readonly residual?: number;
  /** Storage of the residual tokens: fp32 (default, the model's precision) or fp16 (KIVI's own setting for fp16 models). */
  readonly residualPrecision?: 'fp32' | 'fp16';
  /** Precision of scales and zero points (default fp16). */
  readonly scales?: ParamPrecision;
}

/**
 * KIVI (arXiv 2402.02750): keys quantised per channel over blocks of G tokens, values per token over
 * groups of G channels, asymmetric min/max, with the newest tokens in float32 residuals. Values leave
 * their residual one at a time (the newest R stay float32); keys leave in whole blocks of G once more
 * than R wait, so between R − G + 1 and R keys stay float32 once the cache is longer than R.
 */
export class KiviKvStore extends LaneKvStore {
  static readonly rules: OptionRules = {
    bits: { kind: 'int', min: 2, max: 4, oneOf: [2, 4], default: 2 },
    group: { kind: 'int', min: 1, max: MAX_GROUP, default: 32 },
    residual: { kind: 'int', min: 1, max: 1 << 20, help: 'at least group, default max(32, group)' },
    residualPrecision: { kind: 'enum', values: ['fp32', 'fp16'], default: 'fp32' },
    scales: SCALES,
  };
  readonly name = 'kivi';
  readonly options: Required<KiviKvOptions>;

  constructor(options: KiviKvOptions | Readonly<Record<string, unknown>> = {}) {
    super();
    const o = validateOptions('kivi', options, KiviKvStore.rules);
    const group = (o['group'] as number | undefined) ?? 32;
    const residual = (o['residual'] as number | undefined) ?? Math.max(32, group);
    if (residual < group) optionError('kivi', 'residual', `residual (${residual}) must be at least group (${group}): keys leave the residual in whole groups.`, KiviKvStore.rules);
    this.options = {
      bits: ((o['bits'] as number | undefined) ?? 2) as 2 | 4,
      group,
      residual,
      residualPrecision: (o['residualPrecision'] as 'fp32' | 'fp16' | undefined) ?? 'fp32',
      scales: (o['scales'] as ParamPrecision | undefined) ?? 'fp16',
    };
  }

  protected createLane(part: KvPart, _layer: number, dim: number, padding: number): Lane {
    const { bits, group, residual, residualPrecision, scales } = this.options;
    // Keys leave the residual in whole blocks of G tokens (per-channel groups run along tokens);
    // values are quantised per token, so they leave one at a time and the newest R stay float32.
    const quantised = part === 'key' ? new ChannelBlockLane(dim, bits, group, scales) : new GroupLane(dim, bits, Math.min(group, dim), scales);
    const lane = new TieredLane(
      [
        { lane: quantised, capacity: Infinity },
        { lane: residualPrecision === 'fp16' ? new Fp16Lane(dim) : new Fp32Lane(dim), capacity: residual, chunk: part === 'key' ? group : 1 },
      ],
      dim,
    );
    // A left-padded row's pad keys are quantised per token, apart: its key blocks and residual
    // flushes start at its first real token, as when the prompt runs alone (pad keys would otherwise
    // share the first block's per-channel ranges, and shift every block boundary). Values are per
    // token already: the residual keeps the newest R slots, so a real token is quantised at the same
    // step either way.
    return part === 'key' && padding > 0 ? new PaddedLane(padding, new GroupLane(dim, bits, Math.min(group, dim), scales), lane, dim) : lane;
  }
}

/** Precisions of `temporal` tiers, highest first. */
const TIER_KEYS = ['fp32', 'fp16', 'int8', 'int4'] as const;
type TierKey = (typeof TIER_KEYS)[number];
const RANK: Record<string, number> = { fp32: 0, fp16: 1, int8: 2, int4: 3, int2: 4 };

/** Options of `temporal`. */
export interface TemporalKvOptions {
  /** Tokens younger than this (in cache slots, newest first) stay float32. */
  readonly fp32?: number;
  /** … younger than this are fp16. */
  readonly fp16?: number;
  /** … younger than this are int8. */
  readonly int8?: number;
  /** … younger than this are int4. */
  readonly int4?: number;
  /** Precision of every older token (default int4). */
  readonly rest?: 'int8' | 'int4' | 'int2';
  /** Channels per group of the integer tiers (default 32, capped at head_dim). */
  readonly group?: number;
  /** Precision of scales and zero points (default fp16). */
  readonly scales?: ParamPrecision;
}

/**
 * Precision falls with age: each tier holds tokens up to an age (cumulative, in cache slots); the
 * default is the newest 64 tokens in float32, the next 192 in int8 and older ones in int4
 * (`fp32=64,int8=256`). Giving any tier replaces the default schedule. Tokens move to the next
 * tier one at a time as they age (int8 → int4 requantises the int8 values).
 */
export class TemporalKvStore extends LaneKvStore {
  static readonly rules: OptionRules = {
    fp32: { kind: 'int', min: 0, max: 1 << 20, default: 64 },
    fp16: { kind: 'int', min: 0, max: 1 << 20 },
    int8: { kind: 'int', min: 0, max: 1 << 20, default: 256 },
    int4: { kind: 'int', min: 0, max: 1 << 20 },
    rest: { kind: 'enum', values: ['int8', 'int4', 'int2'], default: 'int4' },
    group: { kind: 'int', min: 1, max: MAX_GROUP, default: 32 },
    scales: SCALES,
  };
  readonly name = 'temporal';
  /** The schedule: tiers newest first, each with the age it holds tokens up to, then `rest`. */
  readonly schedule: readonly { readonly precision: TierKey; readonly until: number }[];
  readonly rest: 'int8' | 'int4' | 'int2';
  readonly group: number;
  readonly scales: ParamPrecision;

  constructor(options: TemporalKvOptions | Readonly<Record<string, unknown>> = {}) {
    super();
    const o = validateOptions('temporal', options, TemporalKvStore.rules);
    const given = TIER_KEYS.filter((k) => o[k] !== undefined);
    const tiers = given.length > 0 ? given.map((k) => ({ precision: k, until: o[k] as number })) : [{ precision: 'fp32' as const, until: 64 }, { precision: 'int8' as const, until: 256 }];
    for (let i = 1; i < tiers.length; i++) {
      if (tiers[i]!.until < tiers[i - 1]!.until) {
        optionError('temporal', tiers[i]!.precision, `Tier ages must not decrease with precision (${tiers[i - 1]!.precision}=${tiers[i - 1]!.until} > ${tiers[i]!.precision}=${tiers[i]!.until}).`, TemporalKvStore.rules);
      }
    }
    this.rest = (o['rest'] as 'int8' | 'int4' | 'int2' | undefined) ?? 'int4';
    const lowest = tiers[tiers.length - 1]!.precision;
    if (RANK[this.rest]! <= RANK[lowest]!) {
      // Without tiers given, the clash is with the default schedule, which the caller never wrote.
      const hint =
        given.length > 0
          ? ''
          : ` With no tier given the schedule is the default fp32=64,int8=256; give the tiers too, e.g. { fp32: 64, rest: '${this.rest}' }.`;
      optionError('temporal', 'rest', `rest (${this.rest}) must have a lower precision than the ${lowest} tier: precision falls with age.${hint}`, TemporalKvStore.rules);
    }
    this.schedule = tiers;
    this.group = (o['group'] as number | undefined) ?? 32;
    this.scales = (o['scales'] as ParamPrecision | undefined) ?? 'fp16';
  }

  protected createLane(_part: KvPart, _layer: number, dim: number): Lane {
    const make = (precision: TierKey | 'int2'): Lane => {
      const group = Math.min(this.group, dim);
      if (precision === 'fp32') return new Fp32Lane(dim);
      if (precision === 'fp16') return new Fp16Lane(dim);
      const bits: QuantBits = precision === 'int8' ? 8 : precision === 'int4' ? 4 : 2;
      return new GroupLane(dim, bits, group, this.scales);
    };
    const tiers: Tier[] = [{ lane: make(this.rest), capacity: Infinity }];
    // Oldest first: walk the schedule from its lowest precision to the newest tier.
    for (let i = this.schedule.length - 1; i >= 0; i--) {
      const tier = this.schedule[i]!;
      const capacity = tier.until - (i > 0 ? this.schedule[i - 1]!.until : 0);
      if (capacity > 0) tiers.push({ lane: make(tier.precision), capacity });
    }
    return new TieredLane(tiers, dim);
  }
}
