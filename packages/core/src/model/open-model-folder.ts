import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { describeCause } from '../util/describe-cause.js';
import { nodeBuiltin, openDiskFolder } from './disk-model-folder.js';
import { HttpModelFolder } from './http-model-folder.js';
import type { FolderOptions, ModelFolder } from './model-folder.js';

/** Picks the folder kind for a location: HTTP(S) URLs and non-Node runtimes use fetch. */
export function openModelFolder(location: string, options: FolderOptions = {}): ModelFolder {
  const disk = /^https?:\/\//i.test(location) ? undefined : openDiskFolder(location);
  return disk ?? new HttpModelFolder(location, options);
}

/**
 * The location `load` opens for `given`: a `file:` URL as its path on disk (converted with
 * `node:url`'s `fileURLToPath`, as the CLI's `--model` takes one), anything else as it is. An
 * empty path, an `http(s):` URL without a host, a `file:` URL outside Node (a browser reads
 * folders over HTTP only) and one that names no local path (`file://host/…` on Linux) are
 * `InvalidOptionsError`s naming `path`.
 */
export function modelLocation(given: string): string {
  if (given === '') {
    throw new InvalidOptionsError("load needs a model folder: the path is empty; pass the folder's path (e.g. './models/story') or its http(s):// URL.", { option: 'path' });
  }
  if (/^https?:/i.test(given)) {
    // `http://` alone (or `http:models/story`) has no host: fetching `http://config.json` said
    // that the host "config.json" was not found.
    let host = '';
    try {
      host = new URL(given).host;
    } catch {
      // not a URL at all: said below
    }
    if (!/^https?:\/\//i.test(given) || host === '') {
      throw new InvalidOptionsError(`${given} is not an http(s) URL of a folder: it names no host; write it as http://host[:port]/path/to/folder.`, { option: 'path' });
    }
    return given;
  }
  if (!/^file:/i.test(given)) return given;
  // `file:models/story` is a URL of /models/story, not of ./models/story: say so, rather than load
  // (or fail to find) a folder at the root. (`file:/abs/path` is a fine absolute URL.)
  if (/^file:(?![/\\])/i.test(given)) {
    throw new InvalidOptionsError(`${given} is not an absolute file: URL (file:///path/to/folder); a path right after file: names a folder from the root, not a relative one: pass the relative path itself ('${given.slice(5)}') instead.`, { option: 'path' });
  }
  const url = nodeBuiltin<{ fileURLToPath(url: string): string }>('node:url');
  if (url === undefined) {
    throw new InvalidOptionsError(`load cannot read ${given}: file: URLs name folders on disk, which only Node can read; serve the folder over http(s) and pass that URL.`, { option: 'path' });
  }
  let path: string;
  try {
    path = url.fileURLToPath(given);
  } catch (cause) {
    throw new InvalidOptionsError(`${given} is not a file: URL of a local folder (${describeCause(cause)}); pass the folder's path instead.`, { option: 'path', cause });
  }
  // %00 decodes to a NUL byte, which no file system path holds.
  if (path.includes('\0')) throw new InvalidOptionsError(`${given} decodes to a path with a NUL byte (%00), which no folder has; fix the URL.`, { option: 'path' });
  return path;
}
