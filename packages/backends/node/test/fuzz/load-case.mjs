// One case of the load fuzzer (../load-fuzz.test.ts), run in a child process of its own so that a
// crash, an abort or a hang inside onnxruntime's native code ends this process, not the test run.
//
//   node load-case.mjs '{"dir":"/tmp/…/case","chat":false,"http":false}'
//
// Loads the folder with createWeft({ plugins: [nodeBackend()] }).load(…) (over a local HTTP server
// when `http`), generates 2 tokens (and a chat reply of 2 tokens when `chat`), disposes the runtime,
// and prints one line `WEFT_FUZZ_RESULT {…}`: the outcome, the error (name, code, message, path)
// where there was one, onnxruntime sessions still open, and unhandled rejections seen. It never
// calls process.exit: a timer or handle left behind keeps it alive, which the parent sees as a hang.
//
// It imports the built packages (packages/core/dist, packages/backends/node/dist): plain Node
// cannot run the TypeScript sources, and a build is what users run. Rebuild after changing src:
//   npx tsc -p packages/core/tsconfig.json && npx tsc -p packages/backends/node/tsconfig.json
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import ort from 'onnxruntime-node';
import { createWeft, WeftError } from '@weft/core';
import { nodeBackend } from '@weft/backend-node';

const { dir, chat = false, http = false } = JSON.parse(process.argv[2] ?? '{}');

// Every onnxruntime session opened and not released: a load that fails must release what it opened.
let openSessions = 0;
let sessionsOpened = 0;
const create = ort.InferenceSession.create.bind(ort.InferenceSession);
ort.InferenceSession.create = async (...args) => {
  const session = await create(...args);
  openSessions++;
  sessionsOpened++;
  const release = session.release.bind(session);
  let released = false;
  session.release = async () => {
    if (!released) openSessions--;
    released = true;
    return release();
  };
  return session;
};

const unhandled = [];
process.on('unhandledRejection', (reason) => unhandled.push(describe(reason)));

function describe(error) {
  if (!(error instanceof Error)) return { name: typeof error, message: String(error), weft: false };
  const cause = error.cause instanceof Error ? `${error.cause.name}: ${error.cause.message}` : undefined;
  return {
    name: error.name,
    code: error.code,
    weft: WeftError.isInstance(error),
    message: error.message,
    path: error.path,
    cause,
    stack: error.stack?.split('\n').slice(1, 6).join('\n'),
  };
}

/** Serves `root` on 127.0.0.1 (regular files only; anything else is a 404). */
async function serve(root) {
  const server = createServer(async (req, res) => {
    try {
      const path = normalize(join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
      const info = await stat(path).catch(() => undefined);
      if (!path.startsWith(root) || !info?.isFile()) {
        res.writeHead(404).end();
        return;
      }
      const body = await readFile(path);
      res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(500).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const result = { outcome: 'ok', phase: 'load' };
const server = http ? await serve(dir) : undefined;
const location = server ? `http://127.0.0.1:${server.address().port}/` : dir;
const weft = createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1, interOpNumThreads: 1 } })] });
try {
  const model = await weft.load(location, http ? { fetchTimeoutMs: 10_000 } : {});
  result.phase = 'generate';
  result.text = await model.text({ prompt: 'Once upon a time', maxTokens: 2 });
  if (chat) {
    result.phase = 'chat';
    result.chatText = await model.text({ messages: [{ role: 'user', content: 'Tell me a story.' }], maxTokens: 2 });
  }
  result.phase = 'done';
} catch (error) {
  result.outcome = 'error';
  result.error = describe(error);
}
try {
  await weft.dispose();
} catch (error) {
  result.disposeError = describe(error);
}
if (server) {
  server.closeAllConnections();
  server.close();
}
// Release is asynchronous in places (a late session is released when it arrives): give it a turn.
await new Promise((resolve) => setTimeout(resolve, 50));
result.openSessions = openSessions;
result.sessionsOpened = sessionsOpened;
result.unhandled = unhandled;
process.stdout.write(`WEFT_FUZZ_RESULT ${JSON.stringify(result)}\n`);
