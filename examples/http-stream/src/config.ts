/** The command line of `node dist/main.js` (and `pnpm start`): flags, then environment variables, then defaults. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hostName } from './http-io.js';
import { DEFAULTS } from './server.js';

/** The project's own model, `<repo>/models/story` (this file is at `examples/http-stream/{src,dist}/`). */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../../models/story', import.meta.url));

export const USAGE = `Usage: node dist/main.js [options]   (or: npx pnpm@10 --filter @weft/example-http-stream start [options])

Serves a Weft model over HTTP: POST /v1/generate (Server-Sent Events, or JSON with "stream": false),
GET /healthz. Ctrl-C or SIGTERM aborts the generations in flight, unloads the model and exits 0.

Options (each also read from the environment variable in brackets):
  --model DIR            model folder [WEFT_MODEL] (default: <repo>/models/story)
  --port N               port, 0 for any free one [PORT] (default 8080)
  --host HOST            address to listen on [HOST] (default 127.0.0.1: this machine only)
  --allowed-hosts LIST   more host names clients may use (comma-separated); other names in Host
                         headers are refused [WEFT_ALLOWED_HOSTS] (always: localhost, --host, IP addresses)
  --max-concurrent N     generations at once; more are answered 429 [WEFT_MAX_CONCURRENT] (default ${DEFAULTS.maxConcurrent})
  --threads N            onnxruntime intra-op threads [WEFT_THREADS] (default: onnxruntime's choice)
  -h, --help             this text
`;

/** What main runs with. */
export interface Config {
  readonly modelDir: string;
  readonly port: number;
  readonly host: string;
  /** Host names accepted besides the loopback ones and `host`. */
  readonly allowedHosts: readonly string[];
  readonly maxConcurrent: number;
  readonly threads: number | undefined;
}

/** A command line main refuses (exit code 2). */
export class UsageError extends Error {}

/**
 * The configuration of `argv` (without node and the script) and `env`, or `'help'`. A relative
 * `--model` is relative to the directory the command was typed in: under `pnpm start`, which runs
 * in this package's folder, that is `INIT_CWD`.
 */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): Config | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      // `pnpm start -- --port 9000` (npm's habit) passes the `--` on: options follow it.
      args: argv[0] === '--' ? argv.slice(1) : [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'allowed-hosts': { type: 'string' },
        'max-concurrent': { type: 'string' },
        threads: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  /** The value and where it came from (for messages): the flag, else the environment variable. */
  const pick = (flag: keyof typeof values, variable: string): [string, string] | undefined => {
    const given = values[flag];
    if (typeof given === 'string') return [given, `--${flag}`];
    const value = env[variable];
    return value === undefined || value === '' ? undefined : [value, variable];
  };
  const model = pick('model', 'WEFT_MODEL');
  if (model !== undefined && model[0].trim() === '') throw new UsageError(`${model[1]} needs a model folder`);
  const base = env.npm_lifecycle_event !== undefined && env.INIT_CWD ? env.INIT_CWD : cwd;
  return {
    modelDir: model === undefined ? DEFAULT_MODEL_DIR : /^https?:\/\//i.test(model[0]) ? model[0] : resolve(base, model[0]),
    port: integer(pick('port', 'PORT'), 0, 65535) ?? 8080,
    host: pick('host', 'HOST')?.[0] ?? '127.0.0.1',
    allowedHosts: hostNames(pick('allowed-hosts', 'WEFT_ALLOWED_HOSTS')),
    maxConcurrent: integer(pick('max-concurrent', 'WEFT_MAX_CONCURRENT'), 1, 1024) ?? DEFAULTS.maxConcurrent,
    threads: integer(pick('threads', 'WEFT_THREADS'), 1, 256),
  };
}

/** The comma-separated host names of `given`, each checked as the server will (no wildcards). */
function hostNames(given: [string, string] | undefined): string[] {
  if (given === undefined) return [];
  const [text, where] = given;
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const bad = names.find((name) => hostName(name) === undefined);
  if (bad !== undefined) {
    throw new UsageError(`${where}: ${JSON.stringify(bad)} is not a host name or address (give each name in full, such as box.lan or 192.168.1.5; no wildcards)`);
  }
  return names;
}

function integer(given: [string, string] | undefined, min: number, max: number): number | undefined {
  if (given === undefined) return undefined;
  const [text, where] = given;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) throw new UsageError(`${where} must be a whole number from ${min} to ${max} (got "${text}")`);
  return value;
}
