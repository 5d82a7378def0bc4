import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors.js';

/**
 * The project's own model, `<repo>/models/story`. This file sits at `packages/cli/{src,dist}/`,
 * so the repository root is three levels up in both the sources and the build.
 */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../../models/story', import.meta.url));

/**
 * The model folder a command uses: `--model` as given (core reports a missing folder with its
 * path), or the default model, which must exist.
 */
export function resolveModelDir(given: string | undefined): string {
  if (given !== undefined) {
    if (given.trim() === '') throw new UsageError('--model needs a folder path');
    return resolve(given);
  }
  if (!existsSync(DEFAULT_MODEL_DIR)) {
    throw new UsageError(`the default model ${DEFAULT_MODEL_DIR} is not there; pass --model DIR (a Hugging Face style ONNX model folder)`);
  }
  return DEFAULT_MODEL_DIR;
}
