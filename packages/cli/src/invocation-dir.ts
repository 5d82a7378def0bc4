import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Flags whose values are paths on disk (`--onnx-file` is within the model folder, so it is not one);
 * `--plugin` also resolves package names from the directory.
 */
const PATH_FLAG = /(?:^|\s)--(?:model|prompt-file|messages-file|text-file|plugin)(?:[=\s]|$)/;
/** Shell syntax that makes a script more than one plain command (it may `cd` first, or pipe). */
const SHELL_SYNTAX = /[;&|`$()<>]|(?:^|\s)cd(?:\s|$)/;

/** The script `event` of the package.json at `path` as its author wrote it, or undefined. */
export function packageScript(path: string, event: string): string | undefined {
  try {
    const scripts = (JSON.parse(readFileSync(path, 'utf8')) as { scripts?: Record<string, unknown> }).scripts;
    const script = scripts?.[event];
    return typeof script === 'string' ? script : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The directory the user typed the command in, which relative paths on the command line
 * (`--model`, `--prompt-file`, `--messages-file`, `--text-file`, `--plugin`, which also finds
 * packages from there) are relative to. That is the
 * working directory, except under a package manager's script: `pnpm weft …` (this repository's
 * root script) or `npm run weft -- …` runs its command in the package's folder wherever the user
 * was, and records where that was in `INIT_CWD`. When this process is that script's own command
 * (the working directory is the package's folder, and the script, as package.json has it, is one
 * plain command that runs weft and names no path itself), every path came from the user, so
 * `INIT_CWD` is the answer. A script that changes directory or names its own paths keeps the
 * working directory.
 *
 * @param entry the path of the running script (`process.argv[1]`), to recognise `node path/to/bin.js`
 * @param script reads a package.json's script by name (see {@link packageScript})
 */
export function invocationDir(
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
  entry: string | undefined = process.argv[1],
  script: (packageJson: string, event: string) => string | undefined = packageScript,
): string {
  const initial = env['INIT_CWD'];
  const packageJson = env['npm_package_json'];
  const event = env['npm_lifecycle_event'];
  if (!initial || !packageJson || !event) return cwd;
  if (resolve(dirname(packageJson)) !== resolve(cwd)) return cwd;
  // pnpm appends the user's arguments to npm_lifecycle_script, so the script is read as written.
  const command = script(packageJson, event);
  if (command === undefined || SHELL_SYNTAX.test(command) || PATH_FLAG.test(command)) return cwd;
  const [program, first] = command.trim().split(/\s+/);
  const runsWeft = program === 'weft' || (program === 'node' && first !== undefined && entry !== undefined && resolve(cwd, first) === resolve(entry));
  return runsWeft ? resolve(initial) : cwd;
}

/** `path` resolved against `base` when given (see {@link invocationDir}); as given otherwise. */
export function fromInvocationDir(path: string, base: string | undefined): string {
  return base === undefined ? path : resolve(base, path);
}
