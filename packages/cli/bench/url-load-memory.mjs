#!/usr/bin/env node
/**
 * Memory of loading a model folder over HTTP against loading it from disk: the process's peak RSS
 * during the load (Linux `VmHWM`) and its RSS after the load and a full garbage collection, each
 * load in a fresh process. The folder is served by a separate Node.js process, so the server's
 * buffers are not counted.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/url-load-memory.mjs [--model models/bench-30m] [--runs 2]
 *
 * Linux only (it reads /proc/self/status).
 */
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { commandFlags, repoRoot } from './minimal-loop.mjs';

const flag = commandFlags();
const dir = resolve(repoRoot, flag('model', 'models/bench-30m'));
const runs = Number(flag('runs', '2'));
const measure = flag('measure', undefined); // internal: the child that loads `measure` (a path or URL)
flag.done(import.meta.url);

if (measure !== undefined) {
  const { readFileSync } = await import('node:fs');
  const { createWeft } = await import('@weft/core');
  const { nodeBackend } = await import('@weft/backend-node');
  const status = () => readFileSync('/proc/self/status', 'utf8');
  const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status())[1]) / 1024;
  const before = kb('VmRSS');
  const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
  await weft.load(measure);
  await new Promise((r) => setTimeout(r, 100));
  globalThis.gc();
  console.log(JSON.stringify({ before, peak: kb('VmHWM'), after: kb('VmRSS') }));
  await weft.dispose();
  process.exit(0);
}

/** A static file server for `dir` in another process; resolves with its URL. */
function serve() {
  const code = `
    const { createServer } = require('node:http'); const { readFile } = require('node:fs/promises'); const { join } = require('node:path');
    const root = ${JSON.stringify(dir)};
    const server = createServer((req, res) => readFile(join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname))).then(
      (body) => { res.writeHead(200, { 'content-length': body.byteLength }); res.end(req.method === 'HEAD' ? undefined : body); },
      () => { res.writeHead(404); res.end(); }));
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res) => child.stdout.once('data', (d) => res({ url: `http://127.0.0.1:${String(d).trim()}/`, child })));
}

const script = fileURLToPath(import.meta.url);
const load = (source) => JSON.parse(execFileSync(process.execPath, ['--expose-gc', script, '--measure', source], { encoding: 'utf8' }));
const { url, child } = await serve();
try {
  console.log(`${dir}: MB of RSS, each load in a fresh process (medians of ${runs})`);
  for (const [label, source] of [['from disk', dir], ['over HTTP', url]]) {
    const results = Array.from({ length: runs }, () => load(source));
    const median = (k) => results.map((r) => r[k] - (k === 'before' ? 0 : r.before)).sort((a, b) => a - b)[Math.floor(runs / 2)];
    console.log(`  ${label.padEnd(10)} peak during the load +${median('peak').toFixed(0)}   after the load and a GC +${median('after').toFixed(0)}`);
  }
} finally {
  child.kill();
}
