#!/usr/bin/env node
import { commandLineTooLong } from './argv-limit.js';
import { EXIT } from './errors.js';
import { processIo } from './io.js';
import { runCli } from './run-cli.js';

// The first Ctrl-C asks the running command to stop (generation still reports what it has);
// a second one exits at once.
const controller = new AbortController();
process.on('SIGINT', () => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
});
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
  process.exitCode = await runCli(process.argv.slice(2), processIo(controller.signal));
}
