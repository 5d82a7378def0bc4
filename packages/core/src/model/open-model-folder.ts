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
 * empty path, a `file:` URL outside Node (a browser reads folders over HTTP only) and one that
 * names no local path (`file://host/…` on Linux) are `InvalidOptionsError`s naming `path`.
 */
export function modelLocation(given: string): string {
  if (given === '') {
    throw new InvalidOptionsError("load needs a model folder: the path is empty; pass the folder's path (e.g. './models/story') or its http(s):// URL.", { option: 'path' });
  }
  if (!/^file:/i.test(given)) return given;
  const url = nodeBuiltin<{ fileURLToPath(url: string): string }>('node:url');
  if (url === undefined) {
    throw new InvalidOptionsError(`load cannot read ${given}: file: URLs name folders on disk, which only Node can read; serve the folder over http(s) and pass that URL.`, { option: 'path' });
  }
  try {
    return url.fileURLToPath(given);
  } catch (cause) {
    throw new InvalidOptionsError(`${given} is not a file: URL of a local folder (${describeCause(cause)}); pass the folder's path instead.`, { option: 'path', cause });
  }
}
