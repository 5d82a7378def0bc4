#!/usr/bin/env node
// Usage: node dist/main.js [--model DIR] [--port N] [--host HOST] [--allowed-hosts LIST] [--max-concurrent N] [--threads N]
//
// Loads the model once, serves it (see serve.ts), and on the first SIGINT or SIGTERM stops
// accepting connections, aborts the generations in flight, disposes the model and the runtime,
// and exits 0. A second signal exits at once (code 1).
import { parseConfig, UsageError, USAGE } from './config.js';
import { isAnyAddress } from './http-io.js';
import { serve } from './serve.js';

const info = (line: string): void => void process.stdout.write(`http-stream: ${line}\n`);
const error = (line: string): void => void process.stderr.write(`http-stream: ${line}\n`);

let config;
try {
  config = parseConfig(process.argv.slice(2), process.env);
} catch (thrown) {
  if (!(thrown instanceof UsageError)) throw thrown;
  error(`${thrown.message} (see --help)`);
  process.exit(2);
}
if (config === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}

// Signals that arrive while the model loads end the process at once (nothing is being served yet).
let stopping = false;
const early = (): never => process.exit(1);
process.once('SIGINT', early).once('SIGTERM', early);

let serving;
try {
  serving = await serve({ ...config, log: { info, error } });
} catch (thrown) {
  error(`cannot serve ${config.modelDir}: ${thrown instanceof Error ? thrown.message : String(thrown)}`);
  process.exit(1);
}
process.off('SIGINT', early).off('SIGTERM', early);

const { url, model, app, shutdown } = serving;
// On a wildcard address (every interface), the URL is the loopback one: the one to try here.
const where = isAnyAddress(config.host) ? ` and every other address of this machine (--host ${config.host})` : '';
info(`listening on ${url.href}${where} (model ${model.path}, backend ${model.backend}, at most ${config.maxConcurrent} generation${config.maxConcurrent === 1 ? '' : 's'} at once)`);
info(`try: curl -N ${url.href}v1/generate -H 'Content-Type: application/json' -d '{"prompt": "Once upon a time", "maxTokens": 40}'`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    info(`${signal}: shutting down (${app.inFlight()} generation${app.inFlight() === 1 ? '' : 's'} in flight)`);
    shutdown().then(
      () => {
        info('stopped: the model and the runtime are disposed');
        process.exit(0);
      },
      (thrown: unknown) => {
        error(`shutdown failed: ${thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown)}`);
        process.exit(1);
      },
    );
  });
}
