import { BackendError, describeCause, type SessionOptions, type WeftPlugin } from '@weft/core';
import { UsageError } from './errors.js';

/** The package of the `web` backend: an optional peer dependency of `@weft/cli`. */
export const WEB_BACKEND_PACKAGE = '@weft/backend-web';

/**
 * What {@link loadWebBackend} takes from `@weft/backend-web`. Typed here rather than with
 * `typeof import('@weft/backend-web')`, so the CLI's declarations do not import the optional peer.
 */
export interface WebBackendModule {
  webBackend(options?: WebBackendSettings): WeftPlugin;
}

/** The options of `webBackend()` the CLI sets. */
export interface WebBackendSettings {
  /** onnxruntime-web's wasm threads (0: its default). */
  readonly numThreads?: number;
}

/** Most wasm threads `webBackend()` takes. */
const MAX_WEB_THREADS = 256;

/**
 * The web backend's options for a run's session options: `--threads N` (`intraOpNumThreads`,
 * which onnxruntime-web's wasm ignores) becomes its `numThreads`, the wasm thread count (at most
 * 256, all the web backend takes); 0 or absent leaves onnxruntime-web's default.
 */
export function webBackendSettings(session: SessionOptions): WebBackendSettings {
  const threads = session.intraOpNumThreads;
  return threads === undefined ? {} : { numThreads: Math.min(threads, MAX_WEB_THREADS) };
}

/** Imports `@weft/backend-web`; tests pass their own to stand for a missing package. */
export type WebBackendImporter = () => Promise<WebBackendModule>;

const importWebBackend: WebBackendImporter = () => import('@weft/backend-web');

/**
 * The `web` backend's plugin, imported only now: `@weft/backend-web` (and onnxruntime-web with it)
 * is an optional peer of the CLI. When it is not installed, `required` (`--backend web`) is a
 * usage error that says how to install it; otherwise the result is undefined and the CLI runs on
 * the other backends (`auto` then never picks or fails over to `web`). An installed package that
 * fails to import is a `BackendError` either way, with the import's own error as the cause.
 */
export async function loadWebBackend(required: boolean, importer: WebBackendImporter = importWebBackend, settings: WebBackendSettings = {}): Promise<WeftPlugin | undefined> {
  const found = await findWebBackend(importer, settings);
  if (found.plugin !== undefined) return found.plugin;
  if (found.broken !== undefined) throw found.broken;
  if (required) throw webBackendMissing(found.missing);
  return undefined;
}

/**
 * What importing `@weft/backend-web` gave: its plugin; or, when the package is not installed,
 * `missing` (the import's error); or, when it is installed but fails to import (a module it
 * imports is missing, say), `broken`, a `BackendError` with the import's own error as the cause.
 * Never rejects.
 */
export type FoundWebBackend =
  | { readonly plugin: WeftPlugin; readonly missing?: undefined; readonly broken?: undefined }
  | { readonly plugin?: undefined; readonly missing: unknown; readonly broken?: undefined }
  | { readonly plugin?: undefined; readonly missing?: undefined; readonly broken: BackendError };

/**
 * Imports `@weft/backend-web` and says what came of it (see {@link FoundWebBackend}); the plugin
 * is `webBackend(settings)`.
 */
export async function findWebBackend(importer: WebBackendImporter = importWebBackend, settings: WebBackendSettings = {}): Promise<FoundWebBackend> {
  let web: WebBackendModule;
  try {
    web = await importer();
  } catch (error) {
    if (isWebBackendMissing(error)) return { missing: error };
    const broken = new BackendError(`${WEB_BACKEND_PACKAGE} is installed but cannot be imported: ${describeCause(error)}; reinstall it (npm i ${WEB_BACKEND_PACKAGE})`, {
      backend: 'web',
      cause: error,
    });
    return { broken };
  }
  try {
    return { plugin: web.webBackend(settings) };
  } catch (error) {
    return { broken: new BackendError(`${WEB_BACKEND_PACKAGE}'s webBackend() failed: ${describeCause(error)}; reinstall it (npm i ${WEB_BACKEND_PACKAGE})`, { backend: 'web', cause: error }) };
  }
}

/** The usage error for `--backend web` when `@weft/backend-web` is not installed: how to install it. */
export function webBackendMissing(cause: unknown): UsageError {
  return new UsageError(`--backend web needs ${WEB_BACKEND_PACKAGE}, which is not installed; install it beside @weft/cli (npm i ${WEB_BACKEND_PACKAGE})`, { cause });
}

/** Whether an import failed because `@weft/backend-web` itself is not there (not a module it imports). */
function isWebBackendMissing(error: unknown): boolean {
  let code: unknown;
  let message: unknown;
  try {
    code = (error as { code?: unknown }).code;
    message = (error as { message?: unknown }).message;
  } catch {
    return false;
  }
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    typeof message === 'string' &&
    new RegExp(`Cannot find (?:package|module) '${WEB_BACKEND_PACKAGE}(?:/[^']*)?'`).test(message)
  );
}
