import { InvalidOptionsError, isOptionsObject, quoteValue, readOwnOptions } from '@weft/core';

/** One option a router accepts. Values may arrive as strings (`sink-window:sinks=4,window=256`). */
export type OptionSpec =
  | { readonly type: 'int'; readonly min: number; readonly description: string }
  | { readonly type: 'number'; readonly min: number; readonly max?: number; readonly description: string }
  | { readonly type: 'bool'; readonly description: string }
  | { readonly type: 'enum'; readonly values: readonly string[]; readonly description: string };

/** A router's accepted options by key, as `parseOptions` checks them. */
export type OptionSchema = Readonly<Record<string, OptionSpec>>;

/** The parsed value type of one spec. */
export type OptionValue<S extends OptionSpec> = S extends { readonly type: 'int' | 'number' }
  ? number
  : S extends { readonly type: 'bool' }
    ? boolean
    : S extends { readonly type: 'enum'; readonly values: readonly (infer V)[] }
      ? V
      : never;

/** Parsed options: each key present only when the caller gave it. */
export type ParsedOptions<S extends OptionSchema> = { -readonly [K in keyof S]?: OptionValue<S[K]> };

/** Default KV budget (tokens kept between steps) when a router is named without options. */
export const DEFAULT_BUDGET = 256;

/** Options every router but `full` accepts. */
export const BUDGET_OPTION = { type: 'int', min: 1, description: `tokens kept in the cache (default ${DEFAULT_BUDGET})` } as const;
/** `content-aware`'s budget: at least 2, room for a sink and a window token. */
export const CONTENT_AWARE_BUDGET_OPTION = { ...BUDGET_OPTION, min: 2 } as const;
export const POSITIONS_OPTION = {
  type: 'enum',
  values: ['absolute', 'cache'],
  description: 'position_ids of new tokens: absolute (default) or cache (StreamingLLM: positions within the cache)',
} as const;

function describe(spec: OptionSpec): string {
  switch (spec.type) {
    case 'int':
      return `integer >= ${spec.min}`;
    case 'number':
      return spec.max === undefined ? `number >= ${spec.min}` : `number in [${spec.min}, ${spec.max}]`;
    case 'bool':
      return 'true or false';
    case 'enum':
      return spec.values.join(' | ');
  }
}

/** `name (type: description), …` for error messages and listings. */
export function describeOptions(schema: OptionSchema): string {
  const entries = Object.entries(schema);
  if (entries.length === 0) return 'none';
  return entries.map(([key, spec]) => `${key} (${describe(spec)}: ${spec.description})`).join('; ');
}

/** An {@link InvalidOptionsError} that names the router and lists what it accepts. */
export function optionError(router: string, schema: OptionSchema, problem: string, option?: string): InvalidOptionsError {
  // `router.<key>`, as @weft/plugin-kv names `kv.<key>`: the request field first, then the option.
  return new InvalidOptionsError(`Router "${router}": ${problem}. Valid options: ${describeOptions(schema)}.`, { option: option === undefined ? 'router' : `router.${option}` });
}

/**
 * Strict parsing: the options must be a plain object whose keys are all in `schema`, with values
 * of the right type (numbers and booleans may be given as strings). Throws
 * {@link InvalidOptionsError} listing the valid options otherwise.
 */
export function parseOptions<S extends OptionSchema>(router: string, schema: S, raw: unknown): ParsedOptions<S> {
  if (raw === undefined || raw === null) return {};
  if (!isOptionsObject(raw)) throw optionError(router, schema, 'options must be an object');
  // Each own property read once; a getter or proxy trap that throws is an InvalidOptionsError.
  const given = readOwnOptions(raw, 'router', {
    what: `Options of router "${router}"`,
    label: (key) => `Option ${quoteValue(key)} of router "${router}"`,
    option: (key) => (key === undefined ? 'router' : `router.${key}`),
  });
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    // Own keys only: `toString` or `__proto__` must not find Object.prototype's members.
    const spec = Object.hasOwn(schema, key) ? schema[key] : undefined;
    // quoteValue shortens a huge key, so the message stays one readable line.
    if (!spec) throw optionError(router, schema, `unknown option ${quoteValue(key)}`, key);
    if (value === undefined) continue;
    const parsed = parseValue(spec, value);
    if (parsed === undefined) throw optionError(router, schema, `option "${key}" must be ${describe(spec)} (got ${quoteValue(value)})`, key);
    out[key] = parsed;
  }
  return out as ParsedOptions<S>;
}

/** A decimal number as a string: `2.5`, `-1`, `.5`, `1e-3` (surrounding spaces allowed). */
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

function parseValue(spec: OptionSpec, value: unknown): number | boolean | string | undefined {
  switch (spec.type) {
    case 'int': {
      const n = typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value;
      return typeof n === 'number' && Number.isSafeInteger(n) && n >= spec.min ? n : undefined;
    }
    case 'number': {
      // Decimal notation only, as for integers: Number() would also read '0x10' as 16.
      const n = typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n) || n < spec.min) return undefined;
      return spec.max !== undefined && n > spec.max ? undefined : n;
    }
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      return undefined;
    case 'enum':
      return typeof value === 'string' && spec.values.includes(value) ? value : undefined;
  }
}

/**
 * Resolves a budget split in two parts, `first + second = budget`, from whichever of the three
 * were given: all three must agree; two determine the third; with one or none, the defaults
 * fill in (`defaultFirst` as a function of the budget when the budget is known).
 */
export function splitBudget(
  router: string,
  schema: OptionSchema,
  names: { readonly first: string; readonly second: string },
  given: { readonly budget?: number | undefined; readonly first?: number | undefined; readonly second?: number | undefined },
  defaults: { readonly first: (budget: number) => number; readonly firstWithSecond?: (second: number) => number },
  minimums: { readonly first: number; readonly second: number },
): { readonly budget: number; readonly first: number; readonly second: number } {
  const { budget, first, second } = given;
  let result: { budget: number; first: number; second: number };
  if (budget !== undefined && first !== undefined && second !== undefined) {
    if (first + second !== budget) {
      throw optionError(router, schema, `${names.first} (${first}) + ${names.second} (${second}) must equal budget (${budget})`, 'budget');
    }
    result = { budget, first, second };
  } else if (budget !== undefined && first !== undefined) result = { budget, first, second: budget - first };
  else if (budget !== undefined && second !== undefined) result = { budget, first: budget - second, second };
  else if (first !== undefined && second !== undefined) result = { budget: first + second, first, second };
  else if (second !== undefined) {
    const f = defaults.firstWithSecond ? defaults.firstWithSecond(second) : defaults.first(DEFAULT_BUDGET);
    result = { budget: f + second, first: f, second };
  } else {
    const b = budget ?? DEFAULT_BUDGET;
    // A default first part leaves the second its minimum (sink-window:budget=4 → 3 sinks + 1).
    const f = first ?? Math.max(0, Math.min(defaults.first(b), b - minimums.second));
    result = { budget: b, first: f, second: b - f };
  }
  // Parts given alone may add up past 2^53 - 1, where a budget is no longer an exact integer.
  if (!Number.isSafeInteger(result.budget)) {
    throw optionError(
      router,
      schema,
      `${names.first} (${result.first}) + ${names.second} (${result.second}) make a budget above ${Number.MAX_SAFE_INTEGER}, the largest exact integer; give smaller values`,
      'budget',
    );
  }
  if (result.first < minimums.first || result.second < minimums.second) {
    throw optionError(
      router,
      schema,
      `budget ${result.budget} leaves ${names.first} = ${result.first} and ${names.second} = ${result.second} (need ${names.first} >= ${minimums.first}, ${names.second} >= ${minimums.second})`,
      'budget',
    );
  }
  // Parts given alone may both be 0: a router must keep at least one token.
  if (result.budget < 1) {
    throw optionError(router, schema, `${names.first} (${result.first}) + ${names.second} (${result.second}) make a budget of ${result.budget}; keep at least 1 token`, 'budget');
  }
  return result;
}
