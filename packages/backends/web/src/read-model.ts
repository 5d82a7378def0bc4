import { checkExternalDataLocation, ModelLoadError, onnxExternalDataFiles, type ExternalDataFile, type ModelSource } from '@weft/core';
import { nodeBuiltin, type WebEnvironment } from './environment.js';

interface FileHandle {
  stat(): Promise<{ size: number }>;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

interface FsPromises {
  open(path: string, flags: string): Promise<FileHandle>;
}

/** Bytes read per call; a file is read into one array of its size, so files over 2 GiB (which `readFile` refuses) load too. */
const READ_CHUNK = 64 * 1024 * 1024;

/** A graph's bytes and the external data files it reads tensors from (empty for most graphs). */
export interface ModelFiles {
  readonly bytes: Uint8Array;
  readonly externalData: readonly ExternalDataFile[];
}

/**
 * The graph's bytes and its external data files. A `path` source is a file path under Node.js
 * (read with `node:fs`, reached through `process.getBuiltinModule` so no bundler sees a Node
 * import) and a URL in browsers (fetched, relative to the page); the external data files the
 * graph names (`model.onnx_data`) are read from beside it the same way. A `bytes` source brings
 * its own. Failures are `ModelLoadError`s naming the path.
 */
export async function readModel(source: ModelSource, env: WebEnvironment): Promise<ModelFiles> {
  if (source.kind === 'bytes') {
    if (!(source.bytes instanceof Uint8Array) || source.bytes.byteLength === 0) {
      throw new ModelLoadError('The model bytes are empty or not a Uint8Array.');
    }
    const given = source.externalData ?? [];
    const missing = onnxExternalDataFiles(source.bytes).filter((location) => !given.some((f) => f.path === location));
    if (missing.length > 0) {
      throw new ModelLoadError(`The graph's tensors are in external data files (${missing.join(', ')}) that did not come with its bytes: pass them as the source's externalData.`);
    }
    return { bytes: source.bytes, externalData: given };
  }
  const path = source.path;
  const bytes = await readFile(path, env);
  const folder = path.slice(0, Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  const externalData: ExternalDataFile[] = [];
  for (const location of onnxExternalDataFiles(bytes)) {
    externalData.push({ path: location, data: await readFile(folder + checkExternalDataLocation(location, path), env) });
  }
  return { bytes, externalData };
}

/** One file's bytes: `node:fs` for a Node.js path, `fetch` for a URL (and any path in browsers). */
async function readFile(path: string, env: WebEnvironment): Promise<Uint8Array> {
  if (env.node && !/^(https?|blob|data):/i.test(path)) {
    const fs = nodeBuiltin<FsPromises>('node:fs/promises');
    if (!fs) throw new ModelLoadError(`Cannot read ${path}: this Node.js has no process.getBuiltinModule (Node >= 20.16 is needed).`, { path });
    try {
      return await readWholeFile(fs, path);
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

/** A file's bytes in one array of its size, read `chunk` bytes at a time (exported for tests). */
export async function readWholeFile(fs: FsPromises, path: string, chunk = READ_CHUNK): Promise<Uint8Array> {
  const file = await fs.open(path, 'r');
  try {
    const { size } = await file.stat();
    const out = new Uint8Array(size);
    let offset = 0;
    while (offset < size) {
      const { bytesRead } = await file.read(out, offset, Math.min(chunk, size - offset), offset);
      if (bytesRead === 0) break; // the file shrank while it was read
      offset += bytesRead;
    }
    return offset === size ? out : out.slice(0, offset);
  } finally {
    await file.close();
  }
}
