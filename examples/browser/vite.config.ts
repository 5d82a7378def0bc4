import { createReadStream, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const modelDir = join(here, '../../models/story');
const ortDist = join(dirname(createRequire(join(here, '../../packages/backends/web/package.json')).resolve('onnxruntime-web')), '.');

/**
 * Serves a folder at a URL prefix (the model and onnxruntime-web's wasm files), from the dev server
 * (`vite`) and from the server for the built page (`vite preview`), with that server's `headers`.
 */
export function serveFolder(prefix: string, root: string): Plugin {
  const serve = (headers: OutgoingHttpHeaders | undefined) => (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const file = normalize(join(root, decodeURIComponent((req.url ?? '/').split('?')[0]!)));
    // Inside the folder only: `root` plus a separator, so a sibling folder whose name starts with
    // the same letters (`story-x` beside `story`) is not served through `..`.
    if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) return next();
    // A file the folder lacks is a 404, not the page Vite would serve instead: the model loader
    // skips missing optional files (generation_config.json) but would read an HTML page as one.
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      return res.end();
    }
    const type = file.endsWith('.wasm') ? 'application/wasm' : file.endsWith('.mjs') ? 'text/javascript' : 'application/octet-stream';
    // The page's Cross-Origin-Embedder-Policy too, which Vite adds only to what it serves itself:
    // onnxruntime-web starts its wasm threads as workers from /ort/*.mjs, and a cross-origin
    // isolated page's browser refuses a worker script without it (net::ERR_BLOCKED_BY_RESPONSE),
    // after which onnxruntime-web waited for that worker for ever.
    for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) res.setHeader(name, value);
    res.setHeader('content-type', type);
    res.setHeader('content-length', statSync(file).size);
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  };
  return {
    name: `serve ${prefix}`,
    configureServer(server) {
      server.middlewares.use(prefix, serve(server.config.server.headers));
    },
    configurePreviewServer(server) {
      server.middlewares.use(prefix, serve(server.config.preview.headers));
    },
  };
}

export default defineConfig({
  root: here,
  plugins: [serveFolder('/models/story', modelDir), serveFolder('/ort', ortDist)],
  // Cross-origin isolation lets onnxruntime-web use WebAssembly threads (`vite preview` sends
  // these headers too: preview.headers defaults to server.headers).
  server: { headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } },
  // onnxruntime-web's default browser build embeds its wasm loader and names its WebGPU/WebNN
  // ("jsep") wasm with `new URL(…, import.meta.url)`, so `vite build` would copy that 28 MB file
  // into dist/assets although the page fetches it from wasmPaths (/ort/). Its extern-wasm build
  // (same providers, WebGPU included) fetches both the loader and the wasm from wasmPaths only.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022' },
  esbuild: { target: 'es2022' },
});
