#!/usr/bin/env node
import { commandLineTooLong } from './argv-limit.js';
import { EXIT } from './errors.js';
import { processIo } from './io.js';
import { guardProcess } from './process-guards.js';
import { runCli } from './run-cli.js';

// stdout is weft's alone (a plugin's console.log goes to stderr), and what plugin code throws
// outside any request is one line, not a crash report (see guardProcess).
const guard = guardProcess(process);

// The first Ctrl-C (SIGINT) or SIGTERM asks the running command to stop (generation still reports
// what it has; a model load or a read of stdin stops at once); a second one exits at once. The
// exit code is the shell's for the first signal: 130 for SIGINT, 143 for SIGTERM.
const SIGNAL_EXIT = { SIGINT: EXIT.interrupted, SIGTERM: EXIT.terminated } as const;
const controller = new AbortController();
let received: keyof typeof SIGNAL_EXIT | undefined;
/** Set once the command has returned: the process then only waits for stdout to drain. */
let finished = false;
for (const name of ['SIGINT', 'SIGTERM'] as const) {
  process.on(name, () => {
    if (finished) process.exit(typeof process.exitCode === 'number' ? process.exitCode : SIGNAL_EXIT[name]);
    if (received !== undefined) process.exit(SIGNAL_EXIT[received]);
    received = name;
    controller.abort();
  });
}
// A closed pipe (`weft generate … | head`) ends the command quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT.ok);
  process.stderr.write(`weft: cannot write to stdout: ${error.message}\n`);
  process.exit(EXIT.failure);
});
// stderr is where errors go, so its own failures (a closed pipe: `weft … 2>&1 >/dev/null | true`)
// have nowhere to be reported: the command goes on and keeps its exit code.
process.stderr.on('error', () => {});

// Checked before any command loads onnxruntime, which crashes on long command lines.
const tooLong = commandLineTooLong([...process.execArgv, ...process.argv]);
if (tooLong) {
  process.stderr.write(`weft: ${tooLong}\n`);
  process.exitCode = EXIT.usage;
} else {
  const code = await runCli(process.argv.slice(2), processIo(controller.signal, guard.stdout));
  process.exitCode = code === EXIT.interrupted && received !== undefined ? SIGNAL_EXIT[received] : code;
  guard.finished();
  finished = true;
  // The command is done: the process ends once stdout and stderr have drained (a full pipe queues
  // writes that process.exit would drop), also when a plugin's timer, interval or socket (or a
  // model load that never settled) would keep the event loop alive. Normally it has ended before
  // the timer fires (the timer does not hold it).
  let draining = 2;
  const drained = (): void => {
    if (--draining === 0) setTimeout(() => process.exit(), 100).unref();
  };
  guard.stdout('', drained);
  process.stderr.write('', drained);
}
