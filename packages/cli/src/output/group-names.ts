/** A name with one `.N` segment: what comes before it, the index, and what follows (`.key`, or nothing). */
const INDEXED = /^(.*\.)(\d+)(\..*)?$/;

/**
 * Graph input or output names with each run of per-layer names shortened to one pattern:
 * `past_key_values.0.key` … `past_key_values.3.key` become `past_key_values.{0..3}.key`
 * (`{0,2,5}` when the indices are not consecutive). Other names are kept; the order is that of
 * each name's (or group's) first appearance.
 */
export function groupIndexedNames(names: readonly string[]): string[] {
  const groups = new Map<string, { prefix: string; suffix: string; indices: number[] } | string>();
  for (const name of names) {
    const match = INDEXED.exec(name);
    if (match === null) {
      groups.set(`\u0000${name}`, name);
      continue;
    }
    const [, prefix = '', index = '', suffix = ''] = match;
    const key = `${prefix}\u0000${suffix}`;
    const group = groups.get(key);
    if (typeof group === 'object') group.indices.push(Number(index));
    else groups.set(key, { prefix, suffix, indices: [Number(index)] });
  }
  return [...groups.values()].map((group) => (typeof group === 'string' ? group : pattern(group.prefix, group.indices, group.suffix)));
}

function pattern(prefix: string, indices: readonly number[], suffix: string): string {
  if (indices.length === 1) return `${prefix}${indices[0]}${suffix}`;
  const sorted = [...indices].sort((a, b) => a - b);
  const first = sorted[0]!;
  const last = sorted.at(-1)!;
  const consecutive = last - first === sorted.length - 1 && new Set(sorted).size === sorted.length;
  return `${prefix}{${consecutive ? `${first}..${last}` : sorted.join(',')}}${suffix}`;
}
