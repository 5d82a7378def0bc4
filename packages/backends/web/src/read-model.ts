import { ModelLoadError, type ModelSource } from '@weft/core';
import { nodeBuiltin, type WebEnvironment } from './environment.js';

interface FsPromises {
  readFile(path: string): Promise<Uint8Array>;
}

/**
 * The graph's bytes. A `path` source is a file path under Node.js (read with `node:fs`, reached
 * through `process.getBuiltinModule` so no bundler sees a Node import) and a URL in browsers
 * (fetched, relative to the page). Failures are `ModelLoadError`s naming the path.
 */
export async function readModel(source: ModelSource, env: WebEnvironment): Promise<Uint8Array> {
  if (source.kind === 'bytes') {
    if (!(source.bytes instanceof Uint8Array) || source.bytes.byteLength === 0) {
      throw new ModelLoadError('The model bytes are empty or not a Uint8Array.');
    }
    return source.bytes;
  }
  const path = source.path;
  if (env.node && !/^(https?|blob|data):/i.test(path)) {
    const fs = nodeBuiltin<FsPromises>('node:fs/promises');
    if (!fs) throw new ModelLoadError(`Cannot read ${path}: this Node.js has no process.getBuiltinModule (Node >= 20.16 is needed).`, { path });
    try {
      return await fs.readFile(path);
    } catch (cause) {
      throw new ModelLoadError(`Cannot read ${path}: ${(cause as Error).message}`, { path, cause });
    }
  }
  let response: Response;
  try {
    response = await fetch(path);
  } catch (cause) {
    throw new ModelLoadError(`Cannot fetch ${path}: ${(cause as Error).message}`, { path, cause });
  }
  if (!response.ok) throw new ModelLoadError(`Cannot fetch ${path}: HTTP ${response.status} ${response.statusText}`.trim(), { path });
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (cause) {
    throw new ModelLoadError(`Cannot fetch ${path}: the download broke off (${(cause as Error).message}).`, { path, cause });
  }
}
