import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onnxExternalDataFiles, type WeftModel } from '@weft/core';

const MODEL_URL = /^https?:\/\//i;

/**
 * The external data files the model's graph names (`[]` when it keeps its weights inside), read
 * from the graph on disk; null for a URL folder (not fetched again) or a graph that cannot be
 * read now.
 */
export async function externalDataOf(model: WeftModel): Promise<readonly string[] | null> {
  if (MODEL_URL.test(model.path)) return null;
  try {
    return onnxExternalDataFiles(await readFile(join(model.path, model.graphFile)));
  } catch {
    return null;
  }
}
