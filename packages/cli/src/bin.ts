#!/usr/bin/env node
import { commandLineTooLong } from './argv-limit.js';
import { EXIT } from './errors.js';
import { processIo } from './io.js';
import { guardProcess } from './process-guards.js';
import { runCli } from './run-cli.js';

// stdout is weft's alone (a plugin's console.log goes to stderr), what others write to stderr ends
// a held line first, what plugin code throws outside any request is one line, not a crash report,
// and a plugin's process.exit() is reported (see guardProcess).
const guard = guardProcess(process);

// The first Ctrl-C (SIGINT) or SIGTERM asks the running command to stop (generation still reports
// what it has; a model load or a read of stdin stops at once); a second one exits at once. The
// exit code is the shell's for the first signal: 130 for SIGINT, 143 for SIGTERM. A signal after the
// command returned ends the process at once: with the command's exit code if its output has
// drained (only something like a plugin's timer holds the process), with the signal's if not (the
// output is cut short).
const SIGNAL_EXIT = { SIGINT: EXIT.interrupted, SIGTERM: EXIT.terminated } as const;
const controller = new AbortController();
let received: keyof typeof SIGNAL_EXIT | undefined;
/** Set once the command has returned: the process then only waits for stdout and stderr to drain. */
let finished = false;
/** Streams (stdout, stderr) not yet drained once the command has returned. */
let draining = 0;
for (const name of ['SIGINT', 'SIGTERM'] as const) {
  process.on(name, () => {
    if (finished) guard.exit(draining === 0 && typeof process.exitCode === 'number' ? process.exitCode : SIGNAL_EXIT[name]);
    if (received !== undefined) guard.exit(SIGNAL_EXIT[received]);
    received = name;
    controller.abort();
  });
}
// A closed pipe (`weft generate … | head`) ends the command quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') guard.exit(EXIT.ok);
  guard.stderr(`weft: cannot write to stdout: ${error.message}\n`);
  guard.exit(EXIT.failure);
});
// stderr is where errors go, so its own failures (a closed pipe: `weft … 2>&1 >/dev/null | true`)
// have nowhere to be reported: the command goes on and keeps its exit code.
process.stderr.on('error', () => {});

// Checked before any command loads onnxruntime, which crashes on long command lines.
const tooLong = commandLineTooLong([...process.execArgv, ...process.argv]);
if (tooLong) {
  guard.stderr(`weft: ${tooLong}\n`);
  process.exitCode = EXIT.usage;
  guard.finished();
} else {
  const code = await runCli(process.argv.slice(2), processIo(controller.signal, guard.stdout, guard.stderr));
  process.exitCode = code === EXIT.interrupted && received !== undefined ? SIGNAL_EXIT[received] : code;
  guard.finished();
  finished = true;
  // The command is done: the process ends once stdout and stderr have drained (a full pipe queues
  // writes that process.exit would drop), also when a plugin's timer, interval or socket (or a
  // model load that never settled) would keep the event loop alive. Normally it has ended before
  // the timer fires (the timer does not hold it).
  draining = 2;
  const drained = (): void => {
    if (--draining > 0) return;
    guard.drained();
    setTimeout(() => process.exit(), 100).unref();
  };
  guard.stdout('', drained);
  guard.stderr('', drained);
}
