import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serveFolder } from '../../core/test/serve-folder.js';
import { cli, storyModel } from './helpers.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const built = existsSync(bin);
if (!built) console.warn(`[weft cli tests] ${bin} is not built (run pnpm run build): the signal tests on the real process are skipped.`);
/** util-linux `script`, which runs a command on a pseudo-terminal (Ctrl-C and Ctrl-D as a terminal sends them). */
const hasScript = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The built `weft` with its output collected; `onStdout` sees what has arrived so far after each chunk. */
function weft(args: readonly string[], onStdout?: (soFar: string, child: ChildProcessWithoutNullStreams) => void): { child: ChildProcessWithoutNullStreams; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    onStdout?.(stdout, child);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exit };
}

/**
 * Serves models/story but holds every request for a graph (`.onnx`) unanswered, calling `onHeld`
 * when one arrives: the command is then inside the model load, with its signal handlers set.
 */
async function serveHeldGraph(onHeld: () => void) {
  const held: { closed: boolean }[] = [];
  const server = await serveFolder(storyModel, {
    respond: ({ path, res }) => {
      if (!path.endsWith('.onnx')) return false;
      const request = { closed: false };
      held.push(request);
      res.on('close', () => (request.closed = true));
      onHeld();
      return true;
    },
  });
  return { ...server, held };
}

/**
 * A backend plugin that ends its load as the web backend does, with a stretch of synchronous work
 * (the node backend under another name): `globalThis.__weftSignalDuringLoad`, when set, runs
 * just before the load returns, or with the environment variable WEFT_TEST_SIGNAL set the plugin
 * sends the process that signal and keeps the event loop busy for a moment.
 */
const LATE_SIGNAL_PLUGIN = `function during() {
  if (globalThis.__weftSignalDuringLoad) return globalThis.__weftSignalDuringLoad();
  if (!process.env.WEFT_TEST_SIGNAL) return;
  process.kill(process.pid, process.env.WEFT_TEST_SIGNAL);
  for (const end = Date.now() + 30; Date.now() < end; );
}
export default {
  name: 'weft-plugin-late-signal', version: '1.0.0', apiVersion: '^0.1.0',
  setup(ctx) {
    ctx.register('backend', {
      name: 'late-signal',
      create: () => {
        const node = ctx.registry.resolve('backend', { name: 'node' }).create();
        return {
          specificationVersion: 'v1', name: 'late-signal', probe: () => node.probe(),
          createSession: async (source, options) => {
            const session = await node.createSession(source, options);
            during();
            return session;
          },
        };
      },
    });
  },
};
`;

let closeServer: (() => void) | undefined;
afterEach(() => {
  closeServer?.();
  closeServer = undefined;
});

describe.skipIf(!built)('signals on the real process', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s during a model load stops the load at once: one line, exit %i, the download dropped', async (signal, code) => {
    let run: ReturnType<typeof weft> | undefined;
    const server = await serveHeldGraph(() => run!.child.kill(signal));
    closeServer = server.close;
    run = weft(['generate', '--model', server.url, '--threads', '1', '--prompt', 'Once upon a time', '--json']);
    const result = await run.exit;
    // Before: the first signal was only noticed when the load ended, here after the 30 s fetch
    // timeout, and the command then failed with exit 2 for the timeout.
    expect(result.signal).toBeNull();
    expect(result.code).toBe(code);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('weft: interrupted\n');
    expect(server.held.length).toBeGreaterThan(0);
    await vi.waitFor(() => expect(server.held.every((r) => r.closed)).toBe(true));
  });

  it('SIGTERM mid-generation stops at the next step, still prints the done line (finishReason abort) and exits 143', async () => {
    // The story runs ~200 tokens to EOS in well under a second: a run that ended before the signal
    // reached it is retried.
    for (let attempt = 0; ; attempt++) {
      let sent = false;
      const run = weft(['generate', '--model', storyModel, '--threads', '1', '--prompt', 'Once upon a time', '--max-tokens', '1000', '--json'], (soFar, child) => {
        if (!sent && soFar.includes('"type":"token"')) sent = child.kill('SIGTERM');
      });
      const result = await run.exit;
      // Before: SIGTERM killed the process (no done line, no exit code).
      expect(result.signal).toBeNull();
      const done = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { type: string; finishReason: string; ids: number[] };
      expect(done.type).toBe('done');
      if (done.finishReason !== 'abort' && attempt < 4) continue;
      expect(done.finishReason).toBe('abort');
      expect(result.code).toBe(143);
      expect(result.stderr).toBe('');
      expect(done.ids.length).toBeLessThan(1000);
      return;
    }
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s during a synchronous load ends the command with exit %i before anything is generated', async (signal, code) => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-cli-late-signal-'));
    try {
      await writeFile(join(dir, 'late-signal.mjs'), LATE_SIGNAL_PLUGIN);
      const child = spawn(process.execPath, [bin, 'generate', '--model', storyModel, '--threads', '1', '--prompt', 'Once upon a time', '--max-tokens', '50', '--backend', 'late-signal', '--plugin', './late-signal.mjs'], {
        cwd: dir,
        env: { ...process.env, WEFT_TEST_SIGNAL: signal },
        timeout: 20_000,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
      // Before: the signal was seen once generation had begun, and a stats line followed.
      expect({ exit, stdout, stderr }).toEqual({ exit: code, stdout: '', stderr: 'weft: interrupted\n' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(process.platform !== 'linux').each([
    ['generate', '--prompt-file', 'SIGINT', 130],
    ['eval', '--text-file', 'SIGTERM', 143],
  ] as const)('%s %s on a named pipe nobody writes to: %s while it waits ends the process (exit %i)', { timeout: 40_000 }, async (command, flag, signal, code) => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-cli-fifo-signal-'));
    try {
      const fifo = join(dir, 'input.fifo');
      spawnSync('mkfifo', [fifo]);
      const run = weft([command, '--model', storyModel, '--threads', '1', flag, fifo]);
      // Signalled once a thread of the process waits in the pipe's open for a writer.
      const { readdir, readFile } = await import('node:fs/promises');
      const waitsForWriter = async (): Promise<boolean> => {
        const tasks = await readdir(`/proc/${run.child.pid}/task`).catch(() => []);
        const wchans = await Promise.all(tasks.map((t) => readFile(`/proc/${run.child.pid}/task/${t}/wchan`, 'utf8').catch(() => '')));
        return wchans.some((w) => w.includes('fifo') || w.includes('wait_for_partner'));
      };
      await vi.waitFor(async () => expect(await waitsForWriter()).toBe(true), { timeout: 15_000, interval: 50 });
      run.child.kill(signal);
      // Before: the open's thread, still waiting, held process.exit(): only SIGKILL ended it.
      const killer = setTimeout(() => run.child.kill('SIGKILL'), 10_000);
      const result = await run.exit;
      clearTimeout(killer);
      expect({ code: result.code, signal: result.signal, stderr: result.stderr }).toEqual({ code, signal: null, stderr: 'weft: interrupted\n' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a closed stdout (| head -n 2) ends generate quietly with exit 0', async () => {
    let closed = false;
    const run = weft(['generate', '--model', storyModel, '--threads', '1', '--prompt', 'Once upon a time', '--max-tokens', '1000', '--json'], (soFar, child) => {
      if (!closed && soFar.split('\n').length > 2) {
        closed = true;
        child.stdout.destroy();
      }
    });
    const result = await run.exit;
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });
});

describe.skipIf(!built || !hasScript)('--prompt-file - and --messages-file - on a terminal', () => {
  /**
   * Runs weft on a pseudo-terminal (`script`); `keys` are typed once the command says it reads the
   * terminal. `script` ends when its own input does, which is closed once the output matches `last`.
   */
  function onTerminal(args: string, keys: string, last: RegExp): Promise<{ output: string; code: number | null }> {
    return new Promise((resolve, reject) => {
      // One command, which the shell of `script` runs in its place: `-e` exits with its code.
      const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} ${args}`;
      const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
      let output = '';
      let typed = false;
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (!typed && output.includes('from the terminal')) {
          typed = true;
          child.stdin.write(keys);
        }
        if (typed && last.test(output)) child.stdin.end();
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ output: output.replace(/\r\n/g, '\n'), code }));
    });
  }

  it('says how to end the input, and Ctrl-C while it waits exits 130 at once', async () => {
    const { output, code } = await onTerminal(`generate --model ${JSON.stringify(storyModel)} --messages-file -`, '\x03', /interrupted/);
    // Before: nothing was printed while weft waited, and Ctrl-C ended the read as if the input were
    // empty ("--messages-file - is empty", exit 2).
    expect(output).toMatch(/^weft: reading --messages-file - from the terminal; end it with Ctrl-D \(Ctrl-C cancels\)\n/);
    expect(output).toMatch(/weft: interrupted\n$/);
    expect(code).toBe(130);
  });

  it('reads what is typed up to Ctrl-D', async () => {
    const { output, code } = await onTerminal(`generate --model ${JSON.stringify(storyModel)} --threads 1 --prompt-file - --max-tokens 3`, 'Once upon a time\n\x04', /finish/);
    expect(output).toMatch(/\[3 tokens, .* finish length\]\n$/);
    expect(code).toBe(0);
  });
});

describe('stopping a command while it waits (in-process)', () => {
  it('an abort while --prompt-file - waits for standard input stops the read at once and lets the source go', async () => {
    const controller = new AbortController();
    let released = false;
    // Standard input that never sends anything (a terminal nobody types in, a pipe left open).
    const stdin = {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          controller.abort();
          return new Promise<IteratorResult<Uint8Array>>(() => {});
        },
        return: () => {
          released = true;
          return Promise.resolve({ done: true as const, value: undefined });
        },
      }),
    };
    const result = await runWithStdin(['generate', '--model', storyModel, '--prompt-file', '-'], stdin, controller.signal);
    // Before: the read waited for a chunk that never came (a hang until a second Ctrl-C).
    expect(result.code).toBe(130);
    expect(result.stderr).toBe('weft: interrupted\n');
    expect(released).toBe(true);
  });

  it('an abort during the model load stops it with exit 130, not when the load ends', async () => {
    const controller = new AbortController();
    const server = await serveHeldGraph(() => controller.abort());
    closeServer = server.close;
    const result = await cli(['generate', '--model', server.url, '--threads', '1', '--prompt', 'Once upon a time', '--json'], { signal: controller.signal });
    expect(result.code).toBe(130);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('weft: interrupted\n');
    // The runtime was disposed, which aborted the download.
    await vi.waitFor(() => expect(server.held.every((r) => r.closed)).toBe(true));
  });

  it('a signal that arrives during a synchronous load ends the command before anything is generated', async () => {
    // A backend that ends its load as the web backend does, with a stretch of synchronous work: a
    // signal (here SIGUSR2, which aborts the run as bin.ts's SIGINT handler does) sent during it
    // waits in the event loop and is only handled after the load has returned.
    const dir = await mkdtemp(join(tmpdir(), 'weft-cli-late-signal-'));
    await writeFile(join(dir, 'late-signal.mjs'), LATE_SIGNAL_PLUGIN);
    const hook = globalThis as { __weftSignalDuringLoad?: () => void };
    hook.__weftSignalDuringLoad = () => {
      process.kill(process.pid, 'SIGUSR2');
      for (const end = Date.now() + 30; Date.now() < end; );
    };
    try {
      const args = ['generate', '--model', storyModel, '--threads', '1', '--prompt', 'Once upon a time', '--max-tokens', '50', '--backend', 'late-signal', '--plugin', './late-signal.mjs'];
      for (const json of [true, false]) {
        const controller = new AbortController();
        const abort = (): void => controller.abort();
        process.on('SIGUSR2', abort);
        try {
          const result = await cli(json ? [...args, '--json'] : args, { signal: controller.signal, cwd: dir });
          // Before: the signal was seen only once generation had begun: a done line (finishReason
          // abort) or a stats line after what had been generated, instead of this one line.
          expect(result.stderr).toBe('weft: interrupted\n');
          expect(result.code).toBe(130);
          expect(result.stdout).toBe('');
        } finally {
          process.off('SIGUSR2', abort);
        }
      }
    } finally {
      delete hook.__weftSignalDuringLoad;
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** `runCli` with a custom standard input (the `cli` helper takes only bytes). */
async function runWithStdin(argv: readonly string[], stdin: AsyncIterable<Uint8Array>, signal: AbortSignal) {
  const { runCli } = await import('../src/index.js');
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (chunk: string) => ((stdout += chunk), true) },
    stderr: { write: (chunk: string) => ((stderr += chunk), true) },
    stdin,
    signal,
  });
  return { code, stdout, stderr };
}
