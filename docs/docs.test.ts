/**
 * The code the docs promise works, run as a reader would run it: the plugin examples of
 * docs/plugins.md (each plugin and the request that uses it), README.md's "Use it in code"
 * snippets, docs/kv-cache.md's "Use" snippet and the usage snippets of the package READMEs. Each ```ts block is written to a temporary
 * package whose node_modules links the workspace packages, type-checked there, then imported on
 * models/story. The only change made to the text is the model path, made absolute so the run does
 * not depend on the working directory. Also: `weft eval --help` names every field `weft eval --json`
 * prints, and every `node <script>.mjs` the docs give exists and answers `--help`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../packages/cli/src/index.js';
import { USAGE } from '../packages/cli/src/usage.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const MODEL = join(repo, 'models/story');
/** Workspace packages the snippets import, by the directory that holds each. */
const PACKAGES = {
  '@weft/core': 'packages/core',
  '@weft/backend-node': 'packages/backends/node',
  '@weft/backend-web': 'packages/backends/web',
  '@weft/backend-npu': 'packages/backends/npu',
  '@weft/plugin-kv': 'packages/plugins/kv',
  '@weft/plugin-attention': 'packages/plugins/attention',
};

/** The ```ts blocks of the section under the heading line `heading` (up to the next heading of that level or higher). */
async function tsBlocks(doc: string, heading: string): Promise<string[]> {
  const markdown = await readFile(join(repo, doc), 'utf8');
  const start = markdown.split('\n').indexOf(heading);
  if (start < 0) throw new Error(`${doc} has no heading "${heading}"`);
  const level = /^#+/.exec(heading)![0].length;
  const lines = markdown.split('\n').slice(start + 1);
  const end = lines.findIndex((l) => new RegExp(`^#{1,${level}} `).test(l));
  const section = (end < 0 ? lines : lines.slice(0, end)).join('\n');
  return [...section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** Replaces the one occurrence of `from`; a snippet that no longer contains it fails the test. */
function substitute(code: string, from: string, to: string): string {
  const parts = code.split(from);
  if (parts.length !== 2) throw new Error(`expected exactly one ${from} in the snippet, found ${parts.length - 1}`);
  return parts.join(to);
}

/** Type errors in `files` under the repository's compiler options (workspace packages from source). */
function typeErrors(files: readonly string[]): string[] {
  const base = ts.readConfigFile(join(repo, 'tsconfig.base.json'), (p) => ts.sys.readFile(p));
  const { options } = ts.parseJsonConfigFileContent(base.config, ts.sys, repo);
  const program = ts.createProgram(files, {
    ...options,
    noEmit: true,
    composite: false,
    declaration: false,
    declarationMap: false,
    customConditions: ['source'],
    types: ['node'],
    typeRoots: [join(repo, 'node_modules/@types')],
  });
  return files.flatMap((file) =>
    ts
      .getPreEmitDiagnostics(program, program.getSourceFile(file))
      .map((d) => `${d.file ? `${d.file.fileName}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`),
  );
}

/** Imports a module and returns what it wrote to stdout and `console.log` until its top-level code finished. */
async function runCapturingOutput(file: string): Promise<{ stdout: string; logged: unknown[] }> {
  let stdout = '';
  const logged: unknown[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write);
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logged.push(...args));
  try {
    await import(pathToFileURL(file).href);
  } finally {
    write.mockRestore();
    log.mockRestore();
  }
  return { stdout, logged };
}

/** Writes a snippet (model path made absolute) as `name`, type-checks it and runs it. */
async function runSnippet(code: string, name: string): Promise<{ stdout: string; logged: unknown[] }> {
  const file = join(dir, name);
  await writeFile(file, substitute(code, "'./models/story'", JSON.stringify(MODEL)));
  expect(typeErrors([file])).toEqual([]);
  return runCapturingOutput(file);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-docs-'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  await mkdir(join(dir, 'node_modules/@weft'), { recursive: true });
  for (const [name, path] of Object.entries(PACKAGES)) await symlink(join(repo, path), join(dir, 'node_modules', name), 'dir');
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('docs/plugins.md: a plugin in 30 lines', () => {
  const prompt = 'Once upon a time, there was a little girl named';

  it('is at most 30 lines, type-checks, and its processor and analyzer run in a streamed request', async () => {
    const blocks = await tsBlocks('docs/plugins.md', '## A plugin in 30 lines');
    expect(blocks).toHaveLength(2);
    const [plugin, usage] = blocks as [string, string];
    expect(plugin.trimEnd().split('\n').length).toBeLessThanOrEqual(30);
    // What the assertions below rely on: the import of the plugin file, the prompt, the ban, the length.
    for (const part of ["from './story-tools.js'", `prompt: '${prompt}'`, "encode(' Fern'", 'maxTokens: 40']) expect(usage).toContain(part);

    const pluginFile = join(dir, 'story-tools.ts');
    const mainFile = join(dir, 'main.ts');
    await writeFile(pluginFile, plugin);
    await writeFile(mainFile, substitute(usage, "'./models/story'", JSON.stringify(MODEL)));
    expect(typeErrors([pluginFile, mainFile])).toEqual([]);

    const { stdout: out } = await runCapturingOutput(mainFile);
    const summary = /\n(\d+) steps, mean next-token entropy (\d+\.\d+) nats\n$/.exec(out);
    expect(summary, out).not.toBeNull();
    const [, steps, entropy] = summary!;
    const story = out.slice(0, summary!.index);
    expect(story.trim().length).toBeGreaterThan(0);
    expect(Number(steps)).toBe(40); // 40 tokens without EOS: one analysis event per forward step
    expect(Number(entropy)).toBeGreaterThan(0);
    expect(story).not.toContain(' Fern');

    // Without the processor the model does pick the banned name, so its absence above is the ban.
    const control = join(dir, 'control.ts');
    await writeFile(
      control,
      [
        "import { createWeft } from '@weft/core';",
        "import { nodeBackend } from '@weft/backend-node';",
        'const weft = createWeft({ plugins: [nodeBackend()] });',
        `const model = await weft.load(${JSON.stringify(MODEL)});`,
        `export const text = await model.text({ prompt: ${JSON.stringify(prompt)}, maxTokens: 40 });`,
        'await weft.dispose();',
      ].join('\n'),
    );
    const { text } = (await import(pathToFileURL(control).href)) as { text: string };
    expect(text).toMatch(/^ Fern\b/);
  });
});

describe('docs/plugins.md: a sampler and hooks', () => {
  it('type-checks, draws the same story for the same seed, and its hooks run in every request', async () => {
    const blocks = await tsBlocks('docs/plugins.md', '## A sampler and hooks');
    expect(blocks).toHaveLength(2);
    const [plugin, usage] = blocks as [string, string];
    expect(usage).toContain("from './story-dice.js'");
    const pluginFile = join(dir, 'story-dice.ts');
    const mainFile = join(dir, 'story-dice-main.ts');
    await writeFile(pluginFile, plugin);
    await writeFile(mainFile, substitute(usage, "'./models/story'", JSON.stringify(MODEL)));
    expect(typeErrors([pluginFile, mainFile])).toEqual([]);
    const { logged } = await runCapturingOutput(mainFile);
    // What the comments in the snippet say it prints: the story, true, then 60 true.
    expect(logged).toHaveLength(4);
    expect(typeof logged[0]).toBe('string');
    expect((logged[0] as string).trim().length).toBeGreaterThan(0);
    expect(logged.slice(1)).toEqual([true, 60, true]);
  });
});

describe('README.md: use it in code', () => {
  let blocks: string[];
  beforeAll(async () => {
    blocks = await tsBlocks('README.md', '## Use it in code');
  });

  it('the first snippet type-checks and streams a story', async () => {
    expect(blocks.length).toBeGreaterThanOrEqual(1);
    const { stdout } = await runSnippet(blocks[0]!, 'readme-stream.ts');
    expect(stdout.trim().split(/\s+/).length).toBeGreaterThan(20); // many words of story, streamed
  });

  it('the KV snippets (runtime defaults, then per request with heavy-hitter) type-check and generate', async () => {
    expect(blocks).toHaveLength(4);
    for (const [i, block] of blocks.slice(1, 3).entries()) {
      const { logged } = await runSnippet(block, `readme-kv-${i}.ts`);
      expect(logged).toHaveLength(1);
      expect(String(logged[0]).trim().split(/\s+/).length).toBeGreaterThan(50); // past the point where routers evict
    }
  });

  it('the prompt cache snippet type-checks and answers both turns', async () => {
    const block = blocks[3]!;
    expect(block).toContain('createPromptCache()');
    const { logged } = await runSnippet(block, 'readme-prompt-cache.ts');
    expect(logged).toHaveLength(2);
    for (const reply of logged) expect(String(reply).trim().length).toBeGreaterThan(0);
  });
});

describe('package READMEs', () => {
  it.each([
    ['packages/core/README.md', 'any'],
    ['packages/backends/node/README.md', 'node'],
    ['packages/backends/web/README.md', 'web'],
    ['packages/backends/npu/README.md', 'node'], // no NPU provider here: auto falls through to node
  ])('%s: the usage snippet type-checks and generates (backend: %s)', async (readme, backend) => {
    const [block] = await tsBlocks(readme, '## Use');
    expect(block).toBeDefined();
    const { stdout, logged } = await runSnippet(block!, `${readme.replaceAll('/', '-')}.ts`);
    const output = `${stdout}\n${logged.map(String).join('\n')}`;
    if (backend !== 'any') expect(logged).toContain(backend); // the snippet prints model.backend
    expect(output.trim().split(/\s+/).length).toBeGreaterThan(20); // a story came out
  });

  it("@weft/plugin-kv's usage snippet type-checks and runs", async () => {
    const [block] = await tsBlocks('packages/plugins/kv/README.md', '## Use');
    const { logged } = await runSnippet(block!, 'plugin-kv-use.ts');
    expect((logged[0] as { perplexity: number }).perplexity).toBeGreaterThan(1);
  });

  it("@weft/plugin-kv's store-instance snippet type-checks and runs", async () => {
    const [block] = await tsBlocks('packages/plugins/kv/README.md', '## Store instances');
    const { logged } = await runSnippet(block!, 'plugin-kv-instances.ts');
    expect((logged[2] as { perplexity: number }).perplexity).toBeGreaterThan(1);
  });

  it("@weft/plugin-attention's first snippet type-checks and runs", async () => {
    const [block] = await tsBlocks('packages/plugins/attention/README.md', '# @weft/plugin-attention');
    await runSnippet(block!, 'plugin-attention-use.ts');
  });
});

describe('docs/kv-cache.md: use', () => {
  it('the snippet type-checks, generates with int4 + heavy-hitter and measures kivi', async () => {
    const [block] = await tsBlocks('docs/kv-cache.md', '## Use');
    const { logged } = await runSnippet(block!, 'kv-cache-use.ts');
    const { perplexity, kvBytes, kvBytesFp32 } = logged[0] as { perplexity: number; kvBytes: number; kvBytesFp32: number };
    expect(perplexity).toBeGreaterThan(1);
    expect(kvBytes).toBeGreaterThan(0);
    expect(kvBytes).toBeLessThan(kvBytesFp32); // kivi is smaller than float32
  });
});

describe('weft eval --help', () => {
  it('names every field of the object `weft eval --json` prints', async () => {
    const file = join(dir, 'eval-docs.txt');
    await writeFile(file, 'Once upon a time, there was a little fox named Theo.\n\nTom had a big red ball.\n');
    let stdout = '';
    let stderr = '';
    const code = await runCli(['eval', '--model', MODEL, '--text-file', file, '--json'], {
      stdout: { write: (chunk: string) => ((stdout += chunk), true) },
      stderr: { write: (chunk: string) => ((stderr += chunk), true) },
    });
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as Record<string, unknown>;
    const missing = Object.keys(report).filter((key) => !new RegExp(`\\b${key}\\b`).test(USAGE.eval));
    expect(missing).toEqual([]);
  });
});

describe('the scripts the docs tell readers to run', () => {
  const docs = ['README.md', 'docs/architecture.md', 'docs/backends.md', 'docs/benchmarks.md', 'docs/kv-cache.md', 'docs/plugins.md', 'models/README.md'];

  it('each `node <script>.mjs` exists, loads, and answers --help', async () => {
    const scripts = new Set<string>();
    for (const doc of docs) {
      const text = await readFile(join(repo, doc), 'utf8');
      for (const match of text.matchAll(/\bnode ((?:packages|models|scripts)\/[\w./-]+\.mjs)\b/g)) scripts.add(match[1]!);
    }
    expect(scripts.size).toBeGreaterThan(15);
    const failed: string[] = [];
    // A few at a time: each loads onnxruntime-node, and CI machines may have two cores.
    const queue = [...scripts];
    const worker = async (): Promise<void> => {
      for (let script = queue.shift(); script !== undefined; script = queue.shift()) {
        // Loading the script runs its imports (the built packages, onnxruntime-node): --help then
        // prints its usage and exits before measuring anything.
        const run = await execNode([join(repo, script), '--help']);
        if (run.code !== 0 || run.stdout.trim() === '') failed.push(`${script}: exit ${run.code} ${run.stderr.split('\n')[0] ?? ''}`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    expect(failed).toEqual([]);
  });
});

/** Runs `node args…` in the repository, collecting its output. */
function execNode(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, args, { cwd: repo, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}
