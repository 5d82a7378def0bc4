/**
 * `--help` for the repository's dev scripts (bench scripts, verify-npu): a script's usage is its
 * leading comment, a `/** … *\/` block or a run of `//` lines after the shebang.
 */
import { readFileSync } from 'node:fs';

/** The leading comment of the script at `scriptUrl` (its `import.meta.url`), without comment markers. */
export function scriptUsage(scriptUrl) {
  const lines = readFileSync(new URL(scriptUrl), 'utf8').split('\n');
  if (lines[0]?.startsWith('#!')) lines.shift();
  if (lines[0]?.trimStart().startsWith('/**')) {
    const end = lines.findIndex((line) => line.includes('*/'));
    return lines.slice(1, end).map((line) => line.replace(/^ \* ?/, '')).join('\n').trim();
  }
  const end = lines.findIndex((line) => !line.startsWith('//'));
  return lines.slice(0, end < 0 ? lines.length : end).map((line) => line.replace(/^\/\/ ?/, '')).join('\n').trim();
}
