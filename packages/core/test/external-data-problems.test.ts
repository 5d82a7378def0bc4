import { cp, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackendError, createWeft, definePlugin, InvalidOptionsError, ModelLoadError } from '../src/index.js';
import type { BackendAdapter, ModelSource } from '../src/index.js';
import { openModelFolder } from '../src/model/open-model-folder.js';
import { fixture, runtime } from './helpers.js';
import { recorderPlugin } from './recording-backend.js';
import { serveFolder } from './serve-folder.js';
import { wrappedNodeBackend } from './wrapped-backend.js';

const DATA_BYTES = 204928;
const CUT_TO = 102464;
const temps: string[] = [];
const runtimes: { dispose(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(runtimes.map((w) => w.dispose()));
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

/** A copy of the tiny-external fixture in a temp dir, its data file cut to `size` bytes (or deleted: `'missing'`). */
async function brokenCopy(data: number | 'missing' | 'whole'): Promise<{ dir: string; graph: string; dataFile: string }> {
  const root = await mkdtemp(join(tmpdir(), 'weft-ext-'));
  temps.push(root);
  const dir = join(root, 'model');
  await cp(fixture('tiny-external'), dir, { recursive: true });
  const dataFile = join(dir, 'onnx/model.onnx_data');
  if (data === 'missing') await rm(dataFile);
  else if (data !== 'whole') await truncate(dataFile, data);
  return { dir, graph: join(dir, 'onnx/model.onnx'), dataFile };
}

function tracked<T extends { dispose(): Promise<void> }>(weft: T): T {
  runtimes.push(weft);
  return weft;
}

/** A backend that throws `error` from createSession. */
function throwingPlugin(error: Error) {
  const adapter: BackendAdapter = {
    specificationVersion: 'v1',
    name: 'thrower',
    probe: async () => ({ available: true }),
    createSession: async () => {
      throw error;
    },
  };
  return definePlugin({ name: 'thrower', version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.register('backend', { name: 'thrower', priority: 10, create: () => adapter }) });
}

/** Keeps onnxruntime's own stderr report of the failures these tests cause out of the output. */
const quiet = { logLevel: 'fatal' } as const;

describe('external data files that are cut short or missing', () => {
  const onDisk = [
    {
      what: 'a data file cut short',
      data: CUT_TO,
      message: (graph: string, dataFile: string) =>
        `${dataFile} is shorter than ${graph} needs: its tensors read ${DATA_BYTES} bytes from it and the file holds ${CUT_TO} (an interrupted download?); download it again.`,
      // Before: onnxruntime's own words were the message.
      backendSays: 'GetExtDataFromTensorProto',
    },
    {
      what: 'a missing data file',
      data: 'missing' as const,
      message: (graph: string, dataFile: string) =>
        `${graph} keeps tensors in model.onnx_data, but ${dataFile} does not exist (an interrupted download?); download it again, into the graph's folder.`,
      backendSays: 'External data path',
    },
  ];
  it.each(onDisk)('on disk: $what is a ModelLoadError naming it, with the backend error as cause', async ({ data, message, backendSays }) => {
    const { dir, graph, dataFile } = await brokenCopy(data);
    const weft = tracked(runtime());
    for (const backend of ['node', 'auto']) {
      const error = await weft.load(dir, { backend, session: quiet }).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error), backend).toBe(true);
      expect((error as ModelLoadError).path).toBe(dataFile);
      expect((error as Error).message).toBe(message(graph, dataFile));
      const cause = (error as Error).cause;
      expect(BackendError.isInstance(cause)).toBe(true);
      expect((cause as Error).message).toContain(backendSays);
    }
  });

  it('under auto, a file problem ends the load: the next backend opens no session (timeouts, request errors and a backend failing for its own reason are left as they were)', async () => {
    const short = await brokenCopy(CUT_TO);
    let opened = 0;
    let released = 0;
    const weft = tracked(
      runtime([
        wrappedNodeBackend({ name: 'second', priority: 50, beforeCreateSession: () => void opened++, onRelease: () => void released++ }),
      ]),
    );
    for (const options of [{ session: quiet }, { failover: true, session: quiet }]) {
      const error = await weft.load(short.dir, options).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as ModelLoadError).path).toBe(short.dataFile);
    }
    expect([opened, released]).toEqual([0, 0]);
    // Not asked for a timeout, nor for an error of the request's own (not the backend's): those stand.
    const slow = tracked(runtime([wrappedNodeBackend({ name: 'slow', priority: 50, beforeCreateSession: () => new Promise((resolve) => setTimeout(resolve, 300)) })]));
    const timedOut = await slow.load(short.dir, { backend: 'slow', sessionTimeoutMs: 50, session: quiet }).catch((e: unknown) => e);
    expect((timedOut as ModelLoadError).path).toBe(short.graph);
    expect((timedOut as Error).message).toBe(`The slow backend did not open ${short.graph} within 50 ms; raise sessionTimeoutMs if the graph is that slow to load.`);
    const own = new InvalidOptionsError('this backend refuses its options', { option: 'session' });
    const refusing = tracked(createWeft({ plugins: [throwingPlugin(own)] }));
    expect(await refusing.load(short.dir).catch((e: unknown) => e)).toBe(own);
    // With whole files, a first backend that fails for its own reason is passed over as before.
    const whole = await brokenCopy('whole');
    const seen: ModelSource[] = [];
    const other = tracked(createWeft({ plugins: [recorderPlugin(seen, 200), wrappedNodeBackend({ name: 'second', priority: 50 })] }));
    const model = await other.load(whole.dir);
    expect(model.backend).toBe('second');
    expect(model.rejectedBackends.map((r) => r.name)).toEqual(['recorder']);
    expect(seen).toHaveLength(1);
  });

  it('the folder tells what is wrong only for data files, never throwing: whole files, an unreadable graph and a rest-of-file extent give undefined', async () => {
    const whole = await brokenCopy('whole');
    expect(await openModelFolder(whole.dir).externalDataProblem('onnx/model.onnx')).toBeUndefined();
    // No graph at all, or one that does not parse: nothing to say (the backend's error stands).
    expect(await openModelFolder(whole.dir).externalDataProblem('onnx/nothing.onnx')).toBeUndefined();
    await writeFile(join(whole.dir, 'onnx/garbage.onnx'), 'not a graph');
    expect(await openModelFolder(whole.dir).externalDataProblem('onnx/garbage.onnx')).toBeUndefined();
    // Entries without a length (key renamed, same byte count) read "the rest of the file": any size will do, but it must exist.
    const graph = await readFile(join(whole.dir, 'onnx/model.onnx'));
    const noLengths = Buffer.from(graph.toString('latin1').replaceAll('\u0006length', '\u0006lengtx'), 'latin1');
    const short = await brokenCopy(CUT_TO);
    await writeFile(join(short.dir, 'onnx/model.onnx'), noLengths);
    expect(await openModelFolder(short.dir).externalDataProblem('onnx/model.onnx')).toBeUndefined();
    await rm(short.dataFile);
    expect(await openModelFolder(short.dir).externalDataProblem('onnx/model.onnx')).toEqual({
      path: short.dataFile,
      message: `${short.graph} keeps tensors in model.onnx_data, but ${short.dataFile} does not exist (an interrupted download?); download it again, into the graph's folder.`,
    });
    // A data file that is a folder.
    await mkdir(short.dataFile);
    expect((await openModelFolder(short.dir).externalDataProblem('onnx/model.onnx'))?.message).toBe(
      `${short.graph} keeps tensors in model.onnx_data, but ${short.dataFile} is not a file.`,
    );
  });

  it('over HTTP: a server that sends less of a data file than the graph reads is a ModelLoadError at once, before any backend gets it', async () => {
    const server = await serveFolder(fixture('tiny-external'), {
      respond: ({ path, body, req, res }) => {
        if (path !== '/onnx/model.onnx_data' || req.method !== 'GET') return false;
        const cut = body.subarray(0, CUT_TO);
        res.writeHead(200, { 'content-length': cut.byteLength });
        res.end(cut);
        return true;
      },
    });
    const seen: ModelSource[] = [];
    const weft = tracked(createWeft({ plugins: [recorderPlugin(seen)] }));
    try {
      const error = await weft.load(server.url).catch((e: unknown) => e);
      const dataUrl = `${server.url}onnx/model.onnx_data`;
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as ModelLoadError).path).toBe(dataUrl);
      expect((error as Error).message).toBe(
        `${dataUrl} is shorter than ${server.url}onnx/model.onnx needs: its tensors read ${DATA_BYTES} bytes from it and the server sent ${CUT_TO} (an interrupted upload?); check the file on the server.`,
      );
      expect(seen).toHaveLength(0);
      expect((await stat(join(fixture('tiny-external'), 'onnx/model.onnx_data'))).size).toBe(DATA_BYTES);
    } finally {
      server.close();
    }
  });
});
