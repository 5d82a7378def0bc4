import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors.js';

/**
 * The project's own model, `<repo>/models/story`. This file sits at `packages/cli/{src,dist}/`,
 * so the repository root is three levels up in both the sources and the build.
 */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../../models/story', import.meta.url));

/** An `http(s)://` model folder, which core fetches itself. */
const MODEL_URL = /^https?:\/\//i;
/** Any other URL scheme (two or more letters, so a Windows drive such as `C:` is not one). */
const OTHER_URL = /^[a-z][a-z\d+.-]+:\/\//i;

/**
 * The model folder a command uses: `--model` as given, resolved against `base` (default: the
 * working directory) unless it is an `http(s)://` URL (core reports a missing folder with its path
 * or URL); a `file://` URL is its path, and other URL schemes are usage errors. Without `--model`,
 * the default model, which must exist.
 */
export function resolveModelDir(given: string | undefined, base?: string): string {
  if (given !== undefined) {
    if (given.trim() === '') throw new UsageError('--model needs a folder path or an http(s):// URL');
    if (MODEL_URL.test(given)) return given;
    if (/^file:[/\\]/i.test(given)) {
      try {
        return fileURLToPath(given);
      } catch (error) {
        throw new UsageError(`--model ${given} is not a file:// URL of a local folder (${(error as Error).message})`);
      }
    }
    if (/^file:(?![/\\])/i.test(given)) {
      throw new UsageError(`--model ${given} is not an absolute file: URL (file:///path/to/folder); a path right after file: names a folder from the root, not a relative one: pass the path itself (--model ${given.slice(5)})`);
    }
    if (OTHER_URL.test(given)) throw new UsageError(`--model ${given}: only http(s):// and file:// URLs can be loaded; for other sources download the folder and pass its path`);
    return base === undefined ? resolve(given) : resolve(base, given);
  }
  if (!existsSync(DEFAULT_MODEL_DIR)) {
    throw new UsageError(missingDefaultModel(DEFAULT_MODEL_DIR));
  }
  return DEFAULT_MODEL_DIR;
}

/**
 * {@link resolveModelDir} for a command that also reads the folder's files itself, without Weft
 * (`bench`'s bare onnxruntime loop): there an `http(s)://` URL is a usage error.
 */
export function resolveLocalModelDir(given: string | undefined, command: string, base?: string): string {
  if (given !== undefined && MODEL_URL.test(given)) {
    throw new UsageError(`${command} needs --model to be a folder on disk (its bare onnxruntime loop reads the files itself); download ${given} and pass that folder`);
  }
  return resolveModelDir(given, base);
}

/**
 * Why the default model cannot be used. Installed from npm (under node_modules), `weft` has none:
 * the path `<repo>/models/story` resolves to is only a model in a checkout of the repository.
 */
export function missingDefaultModel(dir: string): string {
  const installed = /[\\/]node_modules[\\/]/.test(dir);
  return installed
    ? 'weft has no default model when installed from npm (models/story exists only in a checkout of the Weft repository); pass --model DIR (a Hugging Face style ONNX model folder)'
    : `the default model ${dir} is not there; pass --model DIR (a Hugging Face style ONNX model folder)`;
}
