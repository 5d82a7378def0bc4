/**
 * What the docs point at exists: every relative link (and `#anchor`) in the user-facing Markdown
 * resolves, and every `--flag` given to a `weft <command>` in them is one that command takes.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { USAGE } from '../packages/cli/src/usage.js';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** README.md, docs/*.md, models/README.md and the README of every package and example. */
function userDocs(): string[] {
  const docs = ['README.md', 'models/README.md'];
  for (const file of readdirSync(join(repo, 'docs'))) if (file.endsWith('.md')) docs.push(`docs/${file}`);
  const readmesUnder = (dir: string, depth: number): void => {
    for (const entry of readdirSync(join(repo, dir), { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const sub = `${dir}/${entry.name}`;
      if (existsSync(join(repo, sub, 'README.md'))) docs.push(`${sub}/README.md`);
      else if (depth > 0) readmesUnder(sub, depth - 1);
    }
  };
  readmesUnder('packages', 1);
  readmesUnder('examples', 0);
  return docs;
}

/**
 * The Markdown's lines split by fenced code blocks: `prose` outside them, `code` inside (each
 * holds every line, the other kind's and the fences as empty strings, so line numbers hold).
 */
function splitFences(markdown: string): { readonly prose: string[]; readonly code: string[] } {
  const prose: string[] = [];
  const code: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    const fence = /^\s*```/.test(line);
    if (fence) fenced = !fenced;
    prose.push(fence || fenced ? '' : line);
    code.push(fence || !fenced ? '' : line);
  }
  return { prose, code };
}

/** GitHub's anchor for a heading's text: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '').replace(/<[^>]+>/g, '');
  return text.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

const anchorCache = new Map<string, Set<string>>();

/** The anchors a Markdown file's headings (numbered on repeats, as GitHub does) and `<a id>`s give. */
function anchorsOf(file: string): Set<string> {
  let anchors = anchorCache.get(file);
  if (anchors !== undefined) return anchors;
  anchors = new Set();
  const seen = new Map<string, number>();
  for (const line of splitFences(readFileSync(file, 'utf8')).prose) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) {
      const base = slug(heading[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]!);
  }
  anchorCache.set(file, anchors);
  return anchors;
}

describe('links in the docs', () => {
  it('finds the docs it checks', () => {
    const docs = userDocs();
    expect(docs).toEqual(expect.arrayContaining(['README.md', 'docs/plugins.md', 'packages/core/README.md', 'packages/plugins/kv/README.md', 'examples/plugin-package/README.md']));
  });

  it('every relative link names a file or folder that exists, and every #anchor a heading there', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const doc of userDocs()) {
      const path = join(repo, doc);
      splitFences(readFileSync(path, 'utf8')).prose.forEach((line, index) => {
        for (const match of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
          const href = match[1]!;
          if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto:, …
          checked++;
          const [file = '', anchor] = href.split('#');
          const target = file === '' ? path : resolve(dirname(path), decodeURIComponent(file));
          const where = `${doc}:${index + 1} ${href}`;
          if (!existsSync(target)) broken.push(`${where}: ${relative(repo, target)} does not exist`);
          else if (anchor !== undefined && anchor !== '') {
            if (statSync(target).isDirectory()) broken.push(`${where}: an anchor on a folder`);
            else if (target.endsWith('.md') && !anchorsOf(target).has(anchor)) broken.push(`${where}: no heading gives #${anchor}`);
          }
        }
      });
    }
    expect(checked).toBeGreaterThan(20);
    expect(broken).toEqual([]);
  });
});

describe('weft commands in the docs', () => {
  it('give each command only flags it takes', () => {
    const commands = Object.keys(USAGE).filter((c) => ['generate', 'eval', 'bench', 'demo', 'info'].includes(c));
    expect(commands.sort()).toEqual(['bench', 'demo', 'eval', 'generate', 'info']);
    const unknown: string[] = [];
    let checked = 0;
    for (const doc of userDocs()) {
      const { prose, code } = splitFences(readFileSync(join(repo, doc), 'utf8'));
      // Commands in code blocks, and inline in `backticks` in the prose.
      const lines = code.map((line, i) => line + ' ' + [...prose[i]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]).join(' | '));
      lines.forEach((line, index) => {
        for (const match of line.matchAll(/(?:\bweft|bin\.js)\s+(generate|eval|bench|demo|info)\b([^#|\n]*)/g)) {
          const usage = USAGE[match[1] as keyof typeof USAGE];
          for (const flag of match[2]!.matchAll(/(?<![\w-])(--[a-z][\w-]*)/g)) {
            checked++;
            if (!new RegExp(`${flag[1]}(?![\\w-])`).test(usage)) unknown.push(`${doc}:${index + 1}: weft ${match[1]} ${flag[1]}`);
          }
        }
      });
    }
    expect(checked).toBeGreaterThan(50);
    expect(unknown).toEqual([]);
  });
});
