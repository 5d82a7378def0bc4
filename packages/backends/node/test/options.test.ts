import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createWeft, InvalidOptionsError, ModelLoadError } from '@weft/core';
import { NodeBackendAdapter, nodeBackend } from '../src/index.js';

const tinyGraph = fileURLToPath(new URL('../../../core/test/fixtures/tiny/onnx/model.onnx', import.meta.url));
const tinyModel = fileURLToPath(new URL('../../../core/test/fixtures/tiny', import.meta.url));

const thrown = (make: () => unknown): unknown => {
  try {
    make();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('nodeBackend options', () => {
  it.each([
    [{ priority: 'x' }, /priority must be a finite number \(got "x"\)/, 'priority'],
    [{ prority: 5 }, /nodeBackend has no option "prority" \(it takes priority, defaults\)/, 'prority'],
    [{ defaults: { threads: 2 } }, /defaults has no option "threads"/, 'defaults.threads'],
    [{ defaults: null }, /defaults must be an object/, 'defaults'],
    [{ defaults: { intraOpNumThreads: 1e9 } }, /defaults\.intraOpNumThreads must be a whole number from 0 .* to 1024/, 'defaults.intraOpNumThreads'],
    [{ defaults: { executionProviders: 'cpu' } }, /defaults\.executionProviders must be a non-empty list of provider names/, 'defaults.executionProviders'],
    [{ defaults: { logLevel: 'loud' } }, /defaults\.logLevel must be one of verbose, info, warning, error, fatal \(got "loud"\)/, 'defaults.logLevel'],
    ['fast', /nodeBackend options must be an object/, 'options'],
  ])('are checked where they are written: %j', (options, message, option) => {
    const error = thrown(() => nodeBackend(options as never));
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect((error as InvalidOptionsError).option).toBe(option);
  });

  it('checks the session options of a load before any backend is tried', async () => {
    const weft = createWeft({ plugins: [nodeBackend()] });
    try {
      for (const [session, option] of [
        ['fast', 'session'],
        [{ intraOpThreads: 3 }, 'session.intraOpThreads'],
        [{ executionProviders: 'cpu' }, 'session.executionProviders'],
        [{ executionProviders: [{ name: 'cpu' }] }, 'session.executionProviders[0]'],
      ] as const) {
        const error = await weft.load(tinyModel, { session: session as never }).catch((e: unknown) => e);
        expect(InvalidOptionsError.isInstance(error), JSON.stringify(session)).toBe(true);
        expect((error as InvalidOptionsError).option).toBe(option);
      }
    } finally {
      await weft.dispose();
    }
  });
});

describe('NodeBackendAdapter model bytes', () => {
  it('opens bytes held in a SharedArrayBuffer, and refuses empty bytes with a ModelLoadError', async () => {
    const file = await readFile(tinyGraph);
    const shared = new Uint8Array(new SharedArrayBuffer(file.byteLength));
    shared.set(file);
    const adapter = new NodeBackendAdapter({ intraOpNumThreads: 1 });
    const session = await adapter.createSession({ kind: 'bytes', bytes: shared });
    expect(session.inputNames).toContain('input_ids');
    await session.release();
    const empty = await adapter.createSession({ kind: 'bytes', bytes: new Uint8Array() }).catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(empty)).toBe(true);
    expect((empty as Error).message).toMatch(/model bytes are empty/);
  });
});

describe('session logLevel', () => {
  /**
   * Runs a generation in a child process (onnxruntime writes its log to the process's stderr, out
   * of reach of any stream a test can swap) whose hook puts an id outside the vocabulary into the
   * feeds, so onnxruntime's Gather kernel fails during the run. Returns the child's stderr and the
   * message of the error the generation rejected with.
   */
  async function failingRun(logLevel: string | undefined): Promise<{ stderr: string; message: string }> {
    const session = logLevel === undefined ? '{}' : JSON.stringify({ logLevel });
    const script = `
      import { createWeft, definePlugin } from '@weft/core';
      import { nodeBackend } from '../dist/index.js';
      const breaksIds = definePlugin({ name: 'breaks-ids', version: '1.0.0', apiVersion: '^0.1.0', setup(ctx) {
        ctx.addHooks({ beforeForward: ({ feeds }) => { feeds.input_ids.data[0] = 1000000n; } });
      } });
      const weft = createWeft({ plugins: [nodeBackend(), breaksIds] });
      const model = await weft.load(${JSON.stringify(tinyModel)}, { session: ${session} });
      const message = await model.text({ prompt: 'Tom', maxTokens: 2 }).then(() => 'no error', (e) => e.message);
      await weft.dispose();
      process.stdout.write(message);`;
    const run = promisify(execFile);
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('.', import.meta.url)) });
    return { stderr, message: stdout };
  }

  // The child process runs the built packages (as a user's program would).
  const built = existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url))) && existsSync(fileURLToPath(new URL('../../../core/dist/index.js', import.meta.url)));
  if (!built) console.warn('[weft node backend tests] dist/ is not built: the logLevel child-process test is skipped (npx pnpm@10 build).');

  it.skipIf(!built)('keeps onnxruntime\'s own copy of a run failure off stderr at fatal, and logs it at the default (error)', async () => {
    const quiet = await failingRun('fatal');
    expect(quiet.message).toMatch(/The node backend failed: .*Gather.*indices element out of data bounds/);
    expect(quiet.stderr).not.toMatch(/onnxruntime/);
    const normal = await failingRun(undefined);
    expect(normal.message).toBe(quiet.message);
    expect(normal.stderr).toMatch(/\[E:onnxruntime.*Gather/);
  }, 30_000);
});
