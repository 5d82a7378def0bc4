import { InvalidOptionsError, isOptionsObject, quoteValue, readOwnOptions } from '@weft/core';

/** One accepted option of a store. */
export type OptionRule =
  | { readonly kind: 'int'; readonly min: number; readonly max?: number; readonly oneOf?: readonly number[]; readonly default?: number; readonly help?: string }
  | { readonly kind: 'enum'; readonly values: readonly string[]; readonly default?: string; readonly help?: string };

/** A store's accepted options by key, as `validateOptions` checks them. */
export type OptionRules = Readonly<Record<string, OptionRule>>;

function describeRule(key: string, rule: OptionRule): string {
  const allowed =
    rule.kind === 'enum'
      ? rule.values.join(' | ')
      : rule.oneOf
        ? rule.oneOf.join(' | ')
        : `integer ${rule.min}${rule.max === undefined ? '+' : `–${rule.max}`}`;
  const def = rule.default === undefined ? '' : `, default ${rule.default}`;
  const help = rule.help === undefined ? '' : `, ${rule.help}`;
  return `${key} (${allowed}${def}${help})`;
}

/** "group (integer 1–4096, default 32), scales (fp16 | fp32, default fp16)". */
export function describeOptions(rules: OptionRules): string {
  const keys = Object.keys(rules);
  return keys.length === 0 ? 'none' : keys.map((k) => describeRule(k, rules[k]!)).join(', ');
}

/**
 * Checks `options` against `rules`: unknown keys and bad values throw `InvalidOptionsError` naming
 * the store and listing its valid options. Integers may be given as decimal strings. Returns the
 * given values, as numbers where the rule is an integer (defaults are the caller's).
 */
export function validateOptions(store: string, options: unknown, rules: OptionRules): Record<string, number | string> {
  const valid = `Valid options of "${store}": ${describeOptions(rules)}.`;
  if (options === undefined || options === null) return {};
  if (!isOptionsObject(options)) {
    throw new InvalidOptionsError(`Options of the kv store "${store}" must be an object. ${valid}`, { option: 'kv' });
  }
  // Each own property read once; a getter or proxy trap that throws is an InvalidOptionsError.
  const given = readOwnOptions(options, 'kv', {
    what: `Options of the kv store "${store}"`,
    label: (key) => `Option ${quoteValue(key)} of the kv store "${store}"`,
    option: (key) => (key === undefined ? 'kv' : `kv.${key}`),
  });
  const out: Record<string, number | string> = {};
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    // Own keys only: `toString` or `constructor` must not find Object.prototype's members.
    const rule = Object.hasOwn(rules, key) ? rules[key] : undefined;
    // quoteValue shortens a huge key, so the message stays one readable line.
    if (!rule) throw new InvalidOptionsError(`Unknown option ${quoteValue(key)} for the kv store "${store}". ${valid}`, { option: `kv.${key}` });
    const bad = (): never => {
      throw new InvalidOptionsError(`Bad value ${quoteValue(value)} for "${key}" of the kv store "${store}": expected ${describeRule(key, rule)}. ${valid}`, {
        option: `kv.${key}`,
      });
    };
    if (rule.kind === 'enum') {
      if (typeof value !== 'string' || !rule.values.includes(value)) bad();
      out[key] = value as string;
    } else {
      // A decimal integer may come as a string (`'32'`), as routers take it; not `'0x20'` or `'3.0'`.
      const n = typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < rule.min || (rule.max !== undefined && n > rule.max)) bad();
      if (rule.oneOf && !rule.oneOf.includes(n as number)) bad();
      out[key] = n as number;
    }
  }
  return out;
}

/** Throws an `InvalidOptionsError` for a cross-option constraint. */
export function optionError(store: string, key: string, message: string, rules: OptionRules): never {
  throw new InvalidOptionsError(`${message} Valid options of "${store}": ${describeOptions(rules)}.`, { option: `kv.${key}` });
}
