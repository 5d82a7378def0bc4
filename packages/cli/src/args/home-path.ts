import { homedir } from 'node:os';
import { posix, win32 } from 'node:path';
import { UsageError } from '../errors.js';

/**
 * A path flag's value with a leading `~` made the user's home directory: `~` alone, `~/…`, and on
 * Windows also `~\…`. A shell does this for `--model ~/x` but not for `--model=~/x` nor for a
 * quoted `"~/x"`, which would otherwise name a folder called `~` in the working directory.
 *
 * `~NAME…` stays as it is, a name that starts with `~` (`~draft.txt`, a lock file `~$doc`):
 * Node has no portable way to look up another user's home, and where a shell would have expanded
 * `~bob/x` it already did. A missing one is reported with its full path, which shows how it was
 * read. Values that do not start with `~` (`-` for stdin, URLs, `a/~/b`) are returned unchanged;
 * the result is resolved later like any other path (an expanded one is absolute).
 *
 * @param flag names the flag in errors, e.g. `--model`
 * @param home the home directory (`os.homedir()`: `$HOME`, `%USERPROFILE%` on Windows)
 */
export function expandHome(value: string, flag: string, home: () => string = homedir, platform: NodeJS.Platform = process.platform): string {
  if (!value.startsWith('~')) return value;
  const rest = value.slice(1);
  const separator = platform === 'win32' ? /^[\\/]/ : /^\//;
  if (rest !== '' && !separator.test(rest)) return value;
  let dir: string;
  try {
    dir = home();
  } catch (error) {
    throw new UsageError(`${flag} ${value}: cannot expand ~, the home directory is unknown (${(error as Error).message}); write the full path`);
  }
  if (dir === '') throw new UsageError(`${flag} ${value}: cannot expand ~, the home directory is unknown; write the full path`);
  return rest === '' ? dir : (platform === 'win32' ? win32 : posix).join(dir, rest);
}
