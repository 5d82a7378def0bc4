import { openDiskFolder } from './disk-model-folder.js';
import { HttpModelFolder } from './http-model-folder.js';
import type { FolderOptions, ModelFolder } from './model-folder.js';

/** Picks the folder kind for a location: HTTP(S) URLs and non-Node runtimes use fetch. */
export function openModelFolder(location: string, options: FolderOptions = {}): ModelFolder {
  const disk = /^https?:\/\//i.test(location) ? undefined : openDiskFolder(location);
  return disk ?? new HttpModelFolder(location, options);
}
