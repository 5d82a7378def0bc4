import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelLoadError } from '../errors/model-load-error.js';

/** Graph files tried in order when the caller names none. */
export const GRAPH_CANDIDATES: readonly string[] = ['onnx/model.onnx', 'onnx/decoder_model_merged.onnx', 'model.onnx'];

/** Throws a `ModelLoadError` unless `dir` is a readable folder. */
export async function assertFolder(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new ModelLoadError(`Model folder ${dir} does not exist.`, { path: dir });
  if (!info.isDirectory()) throw new ModelLoadError(`${dir} is not a folder; point at a Hugging Face style model folder.`, { path: dir });
}

/** Reads and parses a JSON file of the folder; `undefined` when optional and absent. */
export async function readJson(dir: string, file: string, required: boolean): Promise<unknown> {
  const path = join(dir, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (!required && (cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelLoadError(`Cannot read ${path}: the model folder needs ${file}.`, { path, cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ModelLoadError(`${path} is not valid JSON: ${(cause as Error).message}`, { path, cause });
  }
}

/** Path of the graph to load: the named file, or the first candidate that exists. */
export async function findGraph(dir: string, onnxFile: string | undefined): Promise<string> {
  const candidates = onnxFile ? [onnxFile] : GRAPH_CANDIDATES;
  for (const file of candidates) {
    const path = join(dir, file);
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile()) {
      if (info.size === 0) throw new ModelLoadError(`${path} is empty.`, { path });
      return path;
    }
  }
  throw new ModelLoadError(`No ONNX graph in ${dir}: looked for ${candidates.join(', ')}.`, { path: dir });
}
