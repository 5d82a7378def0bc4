import { InvalidOptionsError, quoteValue } from '@weft/core';
import { BUDGET_OPTION, CONTENT_AWARE_BUDGET_OPTION, DEFAULT_BUDGET, POSITIONS_OPTION, optionError, parseOptions, splitBudget, type OptionSchema, type ParsedOptions } from '../options.js';
import type { BudgetRouter } from './base.js';
import { ContentAwareRouter } from './content-aware.js';
import { HeavyHitterRouter } from './heavy-hitter.js';
import { HybridRouter } from './hybrid.js';
import { KeyNormRouter } from './key-norm.js';
import { FullRouter, SinkWindowRouter, StridedRouter, WindowRouter } from './positional.js';

const PER_HEAD = { type: 'bool', description: 'choose slots per key/value head for single-row requests and batches without padding (default true)' } as const;
const half = (n: number): number => Math.floor(n / 2);

const schemas = {
  full: { positions: POSITIONS_OPTION },
  window: {
    budget: BUDGET_OPTION,
    window: { type: 'int', min: 1, description: 'tokens kept, the newest (same as budget)' },
    positions: POSITIONS_OPTION,
  },
  'sink-window': {
    sinks: { type: 'int', min: 0, description: 'first tokens always kept (default 4, or budget - 1 when smaller)' },
    window: { type: 'int', min: 1, description: 'newest tokens kept (default budget - sinks)' },
    budget: { type: 'int', min: 1, description: `sinks + window (default ${DEFAULT_BUDGET})` },
    positions: POSITIONS_OPTION,
  },
  strided: {
    budget: BUDGET_OPTION,
    window: { type: 'int', min: 1, description: 'newest tokens kept (default budget / 2)' },
    stride: { type: 'int', min: 1, description: 'older tokens kept are those at positions divisible by stride (default 8)' },
    positions: POSITIONS_OPTION,
  },
  'heavy-hitter': {
    budget: BUDGET_OPTION,
    recent: { type: 'int', min: 0, description: 'newest tokens kept (default budget / 2)' },
    heavy: { type: 'int', min: 0, description: 'older tokens kept by accumulated attention (default budget - recent)' },
    perHead: PER_HEAD,
    positions: POSITIONS_OPTION,
  },
  'key-norm': {
    budget: BUDGET_OPTION,
    recent: { type: 'int', min: 0, description: 'newest tokens kept (default budget / 2)' },
    perHead: PER_HEAD,
    positions: POSITIONS_OPTION,
  },
  hybrid: {
    budget: BUDGET_OPTION,
    window: { type: 'int', min: 0, description: 'newest tokens kept (default budget / 2); the rest go to the most important older tokens' },
    fallback: { type: 'enum', values: ['key-norm', 'recency'], description: 'ranking without a published importance (default key-norm)' },
    positions: POSITIONS_OPTION,
  },
  'content-aware': {
    budget: CONTENT_AWARE_BUDGET_OPTION,
    mode: { type: 'enum', values: ['step', 'request'], description: 'decide every step (default) or once per request' },
    entropy: { type: 'number', min: 0, description: 'next-token entropy (nats) from which the model counts as uncertain (default 2.5)' },
    repetition: { type: 'number', min: 0, max: 1, description: 'repeated-trigram fraction from which the text counts as looping (default 0.3)' },
    repetitionWindow: { type: 'int', min: 4, description: 'recent ids the repetition is measured over (default 64)' },
    sinks: { type: 'int', min: 0, description: 'sink tokens of the sink-window policy, below budget (default 4, or budget - 1 when smaller)' },
    positions: POSITIONS_OPTION,
  },
} as const satisfies Record<string, OptionSchema>;

/** Names of the routers this package registers. */
export type RouterName = keyof typeof schemas;
/** The routers this package registers, by name. */
export const ROUTER_NAMES = Object.keys(schemas) as RouterName[];

/** Options of each router, as typed objects (CLI strings are parsed into these). */
export type RouterOptions<N extends RouterName> = ParsedOptions<(typeof schemas)[N]>;
/** Options of the `full` router. */
export type FullOptions = RouterOptions<'full'>;
/** Options of the `window` router. */
export type WindowOptions = RouterOptions<'window'>;
/** Options of the `sink-window` router. */
export type SinkWindowOptions = RouterOptions<'sink-window'>;
/** Options of the `strided` router. */
export type StridedOptions = RouterOptions<'strided'>;
/** Options of the `heavy-hitter` router. */
export type HeavyHitterOptions = RouterOptions<'heavy-hitter'>;
/** Options of the `key-norm` router. */
export type KeyNormOptions = RouterOptions<'key-norm'>;
/** Options of the `hybrid` router. */
export type HybridOptions = RouterOptions<'hybrid'>;
/** Options of the `content-aware` router. */
export type ContentAwareOptions = RouterOptions<'content-aware'>;

/** One-line descriptions shown in registry listings. */
export const ROUTER_DESCRIPTIONS: Readonly<Record<RouterName, string>> = {
  full: 'keeps every token (no eviction)',
  window: 'sliding window: the newest `budget` tokens',
  'sink-window': 'StreamingLLM: the first `sinks` tokens plus the newest `window`',
  strided: 'the newest `window` tokens plus every `stride`-th older position, up to the budget',
  'heavy-hitter': 'H2O: newest `recent` tokens plus the most-attended older ones, per kv head (needs attentions.{i} outputs)',
  'key-norm': 'L2-norm eviction: newest `recent` tokens plus the older keys with the lowest norm, per kv head',
  hybrid: 'newest `window` tokens plus the older ones an analyzer marks important (fallback: key norm)',
  'content-aware': 'chooses full / sink-window / heavy-hitter or key-norm per step from entropy, repetition and context length',
};

/** Capabilities listed on each registry entry. */
export const ROUTER_CAPABILITIES: Readonly<Partial<Record<RouterName, readonly string[]>>> = {
  'heavy-hitter': ['attentions'],
};

/** The option schema of a router (for listings and CLI help). */
export function routerSchema(name: RouterName): OptionSchema {
  return schemas[name];
}

function isRouterName(name: string): name is RouterName {
  return Object.hasOwn(schemas, name);
}

/**
 * Validates `options` for router `name` and returns the instance. Unknown routers, unknown
 * options and bad values throw {@link InvalidOptionsError} listing what is valid.
 */
export function createRouter(name: string, options?: unknown): BudgetRouter {
  // Checked before any string conversion: a symbol, or an object whose toString throws, must not escape raw.
  if (typeof name !== 'string') {
    throw new InvalidOptionsError(`An attention router is named by a string (got ${quoteValue(name)}). Routers: ${ROUTER_NAMES.join(', ')}.`, { option: 'router' });
  }
  if (!isRouterName(name)) {
    // quoteValue shortens a huge name, so the message stays one readable line.
    throw new InvalidOptionsError(`Unknown attention router ${quoteValue(name)}. Routers: ${ROUTER_NAMES.join(', ')}.`, { option: 'router' });
  }
  return build(name, options);
}

/**
 * The budget (default {@link DEFAULT_BUDGET}) and the part of it an option reserves (default
 * `byDefault(budget)`, half of it unless said otherwise); a part larger than the budget is an error.
 */
function budgetWithPart(
  name: RouterName,
  schema: OptionSchema,
  givenBudget: number | undefined,
  givenPart: number | undefined,
  partName: string,
  byDefault: (budget: number) => number = half,
): { budget: number; part: number } {
  const budget = givenBudget ?? DEFAULT_BUDGET;
  const part = givenPart ?? byDefault(budget);
  if (part > budget) throw optionError(name, schema, `${partName} (${part}) exceeds budget (${budget})`, partName);
  return { budget, part };
}

function build(name: RouterName, raw: unknown): BudgetRouter {
  switch (name) {
    case 'full': {
      const o = parseOptions(name, schemas.full, raw);
      return new FullRouter(o.positions);
    }
    case 'window': {
      const schema = schemas.window;
      const o = parseOptions(name, schema, raw);
      if (o.budget !== undefined && o.window !== undefined && o.budget !== o.window) {
        throw optionError(name, schema, `window (${o.window}) and budget (${o.budget}) are the same knob and differ`, 'window');
      }
      return new WindowRouter(o.window ?? o.budget ?? DEFAULT_BUDGET, o.positions);
    }
    case 'sink-window': {
      const schema = schemas[name];
      const o = parseOptions(name, schema, raw);
      const s = splitBudget(name, schema, { first: 'sinks', second: 'window' }, { budget: o.budget, first: o.sinks, second: o.window }, { first: () => 4, firstWithSecond: () => 4 }, { first: 0, second: 1 });
      return new SinkWindowRouter(s.first, s.second, o.positions);
    }
    case 'strided': {
      const schema = schemas[name];
      const o = parseOptions(name, schema, raw);
      const { budget, part: window } = budgetWithPart(name, schema, o.budget, o.window, 'window', (b) => Math.max(1, half(b)));
      return new StridedRouter(budget, window, o.stride ?? 8, o.positions);
    }
    case 'heavy-hitter': {
      const schema = schemas[name];
      const o = parseOptions(name, schema, raw);
      const s = splitBudget(name, schema, { first: 'recent', second: 'heavy' }, { budget: o.budget, first: o.recent, second: o.heavy }, { first: half, firstWithSecond: (heavy) => heavy }, { first: 0, second: 0 });
      return new HeavyHitterRouter(s.budget, s.first, o.perHead ?? true, o.positions);
    }
    case 'key-norm': {
      const schema = schemas[name];
      const o = parseOptions(name, schema, raw);
      const { budget, part: recent } = budgetWithPart(name, schema, o.budget, o.recent, 'recent');
      return new KeyNormRouter(budget, recent, o.perHead ?? true, o.positions);
    }
    case 'hybrid': {
      const schema = schemas[name];
      const o = parseOptions(name, schema, raw);
      const { budget, part: window } = budgetWithPart(name, schema, o.budget, o.window, 'window');
      return new HybridRouter(budget, window, o.fallback ?? 'key-norm', o.positions);
    }
    case 'content-aware': {
      const o = parseOptions(name, schemas[name], raw);
      // At least 2 (the schema's minimum): room for a sink and a window token.
      const budget = o.budget ?? DEFAULT_BUDGET;
      // Given sinks must leave room for the window; the default shrinks with a small budget.
      if (o.sinks !== undefined && o.sinks >= budget) throw optionError(name, schemas[name], `sinks (${o.sinks}) must be below budget (${budget})`, 'sinks');
      return new ContentAwareRouter(
        {
          budget,
          mode: o.mode ?? 'step',
          entropy: o.entropy ?? 2.5,
          repetition: o.repetition ?? 0.3,
          repetitionWindow: o.repetitionWindow ?? 64,
          sinks: o.sinks ?? 4,
        },
        o.positions,
      );
    }
  }
}
