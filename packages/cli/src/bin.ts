#!/usr/bin/env node
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
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await runCli(process.argv.slice(2), processIo(controller.signal));
