import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeBackendAdapter } from '@weft/backend-node';
import { AdapterResolutionError, ContextOverflowError, createWeft, definePlugin, InvalidOptionsError, ModelDisposedError, ModelLoadError, type ModelSource, type SessionOptions } from '../src/index.js';
import { collect, done, exposedGc, fixture, runtime } from './helpers.js';
import { serveFolder } from './serve-folder.js';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'weft-load-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A copy of the tiny fixture with one file changed. */
async function variant(name: string, change: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(scratch, name);
  await cp(fixture('tiny'), dir, { recursive: true });
  await change(dir);
  return dir;
}

async function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): Promise<void> {
  const path = join(dir, 'config.json');
  const config = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  edit(config);
  await writeFile(path, JSON.stringify(config));
}

/** Renames a graph value by rewriting every occurrence of its name in place (same length). */
async function renameInGraph(path: string, from: string, to: string): Promise<void> {
  if (from.length !== to.length) throw new Error('renameInGraph needs names of equal length');
  const bytes = await readFile(path);
  const a = Buffer.from(from);
  for (let at = bytes.indexOf(a); at >= 0; at = bytes.indexOf(a, at + 1)) Buffer.from(to).copy(bytes, at);
  await writeFile(path, bytes);
}

describe('loading bad model folders', () => {
  const weft = runtime();
  afterAll(() => weft.dispose());

  const cases: [string, () => Promise<string>, RegExp][] = [
    ['a missing folder', async () => join(scratch, 'nope'), /does not exist/],
    ['a file instead of a folder', async () => join(fixture('tiny'), 'config.json'), /is not a folder/],
    ['a missing config.json', () => variant('no-config', (d) => rm(join(d, 'config.json'))), /needs config\.json/],
    ['invalid JSON', () => variant('bad-json', (d) => writeFile(join(d, 'config.json'), '{"model_type": ')), /not valid JSON/],
    [
      'a config.json saved as UTF-16',
      () => variant('utf16', async (d) => writeFile(join(d, 'config.json'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(await readFile(join(d, 'config.json'), 'utf8'), 'utf16le')]))),
      /config\.json is not valid JSON: it holds NUL bytes, as a file saved as UTF-16 does; save it as UTF-8\.$/,
    ],
    ['an unknown model type', () => variant('unknown-type', (d) => editConfig(d, (c) => (c['model_type'] = 't5'))), /Unknown model type "t5"/],
    ['a model type that is not a string', () => variant('object-type', (d) => editConfig(d, (c) => (c['model_type'] = { a: 1 }))), /config\.json has "model_type" an object, not a string; it must name the architecture \(one of llama, /],
    ['no model type', () => variant('no-type', (d) => editConfig(d, (c) => delete c['model_type'])), /config\.json has no "model_type"; it must name the architecture/],
    ['a missing tokenizer.json', () => variant('no-tokenizer', (d) => rm(join(d, 'tokenizer.json'))), /needs tokenizer\.json/],
    ['no ONNX graph', () => variant('no-graph', (d) => rm(join(d, 'onnx'), { recursive: true })), /No ONNX graph/],
    ['an empty graph', () => variant('empty-graph', (d) => writeFile(join(d, 'onnx/model.onnx'), '')), /is empty/],
    [
      'a truncated graph',
      () => variant('truncated', async (d) => writeFile(join(d, 'onnx/model.onnx'), (await readFile(join(d, 'onnx/model.onnx'))).subarray(0, 5000))),
      /could not load .*corrupt or truncated/,
    ],
    ['a layer count that disagrees with the graph', () => variant('layers', (d) => editConfig(d, (c) => (c['num_hidden_layers'] = 3))), /past inputs for 2 layers but config\.json says num_hidden_layers = 3/],
    ['kv heads that disagree with the graph', () => variant('kv-heads', (d) => editConfig(d, (c) => (c['num_key_value_heads'] = 4))), /caches 2 key\/value heads but config\.json says 4/],
    ['a vocabulary that disagrees with the graph', () => variant('vocab', (d) => editConfig(d, (c) => (c['vocab_size'] = 999))), /outputs 1024 logits per token but config\.json says vocab_size = 999/],
    [
      'an input Weft cannot feed',
      () => variant('unfed-input', (d) => renameInGraph(join(d, 'onnx/model.onnx'), 'attention_mask', 'token_type_ids')),
      /has inputs Weft cannot feed: "token_type_ids"/,
    ],
  ];
  const generationConfig = (name: string, values: Record<string, unknown>) => () =>
    variant(name, async (d) => writeFile(join(d, 'generation_config.json'), JSON.stringify({ eos_token_id: 2, ...values })));
  cases.push(
    ['a negative default temperature', generationConfig('g-temp', { do_sample: true, temperature: -3 }), /generation_config\.json: temperature must be a finite number >= 0 \(got -3\)/],
    ['a string temperature', generationConfig('g-temp-str', { temperature: 'hot' }), /temperature must be a finite number >= 0 \(got "hot"\)/],
    ['top_p above 1', generationConfig('g-top-p', { top_p: 7 }), /top_p must be in \[0, 1\]/],
    ['a negative top_k', generationConfig('g-top-k', { top_k: -4 }), /top_k must be an integer >= 0/],
    ['a non-positive repetition penalty', generationConfig('g-penalty', { repetition_penalty: -2 }), /repetition_penalty must be a finite number > 0/],
    ['an EOS id outside the vocabulary', generationConfig('g-eos', { eos_token_id: 5000 }), /eos_token_id must be a token id in \[0, 1024\) or a list of them/],
    ['an EOS token given as text', generationConfig('g-eos-text', { eos_token_id: '</s>' }), /eos_token_id must be a token id/],
    ['a pad id outside the vocabulary', generationConfig('g-pad', { pad_token_id: 5000 }), /pad_token_id must be a token id in \[0, 1024\)/],
    ['a do_sample that is not a boolean', generationConfig('g-sample', { do_sample: 'yes' }), /do_sample must be true or false/],
    ['an EOS id outside the vocabulary in config.json', () => variant('c-eos', async (d) => {
      await rm(join(d, 'generation_config.json'));
      await editConfig(d, (c) => (c['eos_token_id'] = [2, 4096]));
    }), /config\.json: eos_token_id 4096 is not in the vocabulary/],
    ['a generation_config.json that is not an object', () => variant('g-array', (d) => writeFile(join(d, 'generation_config.json'), '[1]')), /generation_config\.json must hold a JSON object \(got an array\)/],
    [
      'a tokenizer with more ids than the model',
      () => variant('big-tokenizer', async (d) => {
        const path = join(d, 'tokenizer.json');
        const json = JSON.parse(await readFile(path, 'utf8')) as { added_tokens: Record<string, unknown>[] };
        json.added_tokens.push({ id: 2000, content: '<|huge|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
        await writeFile(path, JSON.stringify(json));
      }),
      /The tokenizer has ids up to 2000, but the model's vocabulary \(vocab_size in config\.json\) has 1024/,
    ],
    [
      // A vocab_size as large as the far id does not let the load walk 2^31 ids (over a minute).
      'a tokenizer with one id far past the others',
      () => variant('far-id', async (d) => {
        await editConfig(d, (c) => (c['vocab_size'] = 2 ** 31 - 1));
        const path = join(d, 'tokenizer.json');
        const json = JSON.parse(await readFile(path, 'utf8')) as { added_tokens: Record<string, unknown>[] };
        json.added_tokens.push({ id: 2 ** 31 - 2, content: '<|far|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
        await writeFile(path, JSON.stringify(json));
      }),
      // Reported after the graph's checks, as an id past vocab_size is (the tokenizer is not built).
      /outputs 1024 logits per token but config\.json says vocab_size = 2147483647/,
    ],
    ['a graph path that is a folder', () => variant('graph-dir', async (d) => {
      await rm(join(d, 'onnx/model.onnx'));
      await mkdir(join(d, 'onnx/model.onnx'));
    }), /onnx\/model\.onnx is not a file/],
    ['a graph that is a link to nothing', () => variant('graph-dangling', async (d) => {
      await rm(join(d, 'onnx/model.onnx'));
      await symlink(join(d, 'gone.onnx'), join(d, 'onnx/model.onnx'));
    }), /onnx\/model\.onnx is a symbolic link to a file that does not exist/],
    ['a folder that is a link loop', async () => {
      const loop = join(scratch, 'loop');
      await symlink(loop, loop).catch(() => {});
      return loop;
    }, /Cannot read .*loop: ELOOP/],
  );
  it.each(cases)('rejects %s with a ModelLoadError', async (_, make, message) => {
    const error = await weft.load(await make()).catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
  });

  it('explains when no backend is registered', async () => {
    const bare = createWeft();
    await expect(bare.load(fixture('tiny'))).rejects.toThrow(AdapterResolutionError);
    await expect(bare.load(fixture('tiny'))).rejects.toThrow(/no backend adapters are registered/);
  });

  it('lists the registered backends when a named one is missing', async () => {
    await expect(weft.load(fixture('tiny'), { backend: 'npu' })).rejects.toThrow(/No backend adapter matches "npu": registered: node \(different name\)/);
  });
});

describe('graph inputs a plugin feeds', () => {
  it('loads a graph with an input only a plugin feeds when its hooks declare it, and generates with it', async () => {
    // The fixture with its attention mask renamed: core no longer feeds it; the plugin does.
    const dir = await variant('plugin-fed', (d) => renameInGraph(join(d, 'onnx/model.onnx'), 'attention_mask', 'token_type_ids'));
    const feeder = definePlugin({
      name: 'token-type-feeder',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup: (ctx) =>
        ctx.addHooks({
          feeds: ['token_type_ids'],
          beforeForward({ feeds, batchSize, pastLength, session }) {
            const total = pastLength + feeds['input_ids']!.dims[1]!;
            // The step's own session makes the tensor (a plugin has no model during setup).
            feeds['token_type_ids'] = session.createTensor('int64', new BigInt64Array(batchSize * total).fill(1n), [batchSize, total]);
          },
        }),
    });
    const withPlugin = runtime([feeder]);
    const plain = runtime();
    try {
      const model = await withPlugin.load(dir);
      const reference = await plain.load(fixture('tiny'));
      const request = { prompt: 'Once upon a time', maxTokens: 12 };
      expect(done(await collect(model.generate(request))).rows[0]!.ids).toEqual(done(await collect(reference.generate(request))).rows[0]!.ids);
      // Without the declaration the same graph is refused at load.
      await expect(plain.load(dir)).rejects.toThrow(/has inputs Weft cannot feed: "token_type_ids".*hooks\.feeds/);
    } finally {
      await withPlugin.dispose();
      await plain.dispose();
    }
  });

  it('rejects a hooks feeds declaration that is not a list of names', async () => {
    const bad = definePlugin({ name: 'bad-feeds', version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.addHooks({ feeds: 'token_type_ids' as never }) });
    await expect(runtime([bad]).ready()).rejects.toThrow(/"feeds" must be a list of graph input names/);
  });
});

describe('bad requests', () => {
  const weft = runtime();
  afterAll(() => weft.dispose());

  it.each([
    [{ prompt: 'x', temperature: -1 }, /temperature must be a finite number >= 0/],
    [{ prompt: 'x', topP: -0.1 }, /topP must be in \[0, 1\] \(0 keeps only the most likely token\)/],
    [{ prompt: 'x', topK: 1.5 }, /topK must be an integer/],
    [{ prompt: 'x', minP: 1.01 }, /minP must be in \[0, 1\] \(1 keeps only the most likely tokens\)/],
    [{ prompt: 'x', repetitionPenalty: 0 }, /repetitionPenalty must be a finite number > 0/],
    [{ prompt: 'x', maxTokens: 0 }, /maxTokens must be an integer >= 1/],
    [{ prompt: 'x', stop: [''] }, /stop must be a list of non-empty strings/],
    [{ prompt: 'x', stop: ['ok', '\uD83D'] }, /stop\[1\] holds half of a UTF-16 surrogate pair/],
    [{ prompt: 'x', stop: ['a\uDE00'] }, /stop\[0\] holds half of a UTF-16 surrogate pair/],
    [{ prompt: 'x', inputIds: [1] }, /exactly one of prompt, messages or inputIds/],
    [{}, /exactly one of prompt, messages or inputIds \(got none\)/],
    [{ inputIds: [1, 5000] }, /inputIds must be integers in \[0, 1024\)/],
    [{ inputIds: [1, 2.5] }, /inputIds must be integers/],
    [{ inputIds: [-1] }, /inputIds must be integers/],
    [{ inputIds: ['3'] }, /inputIds must be integers/],
    [{ inputIds: [Number.NaN] }, /inputIds must be integers/],
    [{ inputIds: [[1, 2], [3, 4096]] }, /inputIds must be integers/],
    [{ prompt: 'x', seed: 1.5 }, /seed must be an integer/],
    [{ prompt: 'x', seed: 2 ** 60 }, /seed must be an integer within/],
    [{ prompt: 5 }, /prompt must be a string or an array of strings/],
    [{ prompt: { text: 'x' } }, /prompt must be a string or an array of strings/],
    [{ inputIds: 'abc' }, /inputIds must be integers/],
    [{ prompt: 'x', signal: 'stop' }, /signal must be an AbortSignal/],
    [{ prompt: 'x', temperature: Number.NaN }, /temperature must be a finite number >= 0/],
    [{ prompt: 'x', topK: '3' }, /topK must be an integer.* \(got "3"\)/],
    // A misspelled field is refused rather than ignored, with the field meant when it is close.
    [{ prompt: 'x', max_tokens: 5 }, /^the generation request has no option "max_tokens"; did you mean "maxTokens"\? \(it takes prompt, messages, inputIds, maxTokens/],
    [{ prompt: 'x', TopP: 0.5 }, /has no option "TopP"; did you mean "topP"\?/],
    [{ prompt: 'x', beams: 4 }, /^the generation request has no option "beams" \(it takes /],
    // A number given as a string shows as a string, not as the number it looks like.
    [{ prompt: 'x', maxTokens: '5' }, /maxTokens must be an integer >= 1 \(got "5"\)/],
    [{ prompt: 'x', metrics: 'no' }, /metrics must be true or false \(got "no"\)/],
    [{ prompt: 'x', kv: 'int3' }, /No kv-cache adapter matches "int3": registered: fp32 \(different name\)/],
    [{ messages: [] }, /messages must hold at least one/],
    [{ messages: null }, /messages must be a list of \{ role, content \} objects/],
    [{ messages: [[]] }, /messages must hold at least one/],
    // null is not "unset": like the sampling options, these reject it.
    [{ prompt: 'x', maxTokens: null }, /maxTokens must be an integer >= 1 \(got null\)/],
    [{ prompt: 'x', stop: null }, /stop must be a list of non-empty strings/],
    [{ prompt: 'x', ignoreEos: null }, /ignoreEos must be true or false \(got null\)/],
  ])('rejects %j', async (request, message) => {
    const model = await weft.load(fixture('tiny'));
    await expect(collect(model.generate(request as never))).rejects.toThrow(message);
    await model.dispose();
  });

  it.each([
    [{ inputIds: [] }, 'inputIds', /^inputIds holds no ids; give at least one token id\.$/],
    [{ inputIds: [[]] }, 'inputIds', /^inputIds holds no ids; give at least one token id\.$/],
    [{ inputIds: [[1, 5], []] }, 'inputIds', /^inputIds \(row 1\) holds no ids; give at least one token id\.$/],
    [{ prompt: [] }, 'prompt', /^The request has no prompts \(prompt is an empty list\)\.$/],
  ])('names the option an empty prompt came from: %j', async (request, option, message) => {
    const model = await weft.load(fixture('tiny'));
    const error = await collect(model.generate(request as never)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error).toMatchObject({ option, message: expect.stringMatching(message) });
    await model.dispose();
  });

  it.each([
    [undefined, /evaluate takes a request object/],
    [[1, 2, 3], /evaluate takes a request object, e\.g\. \{ inputIds: .* \(not the ids themselves\)/],
    [{}, /^evaluate needs inputIds, the token ids to score, e\.g\. \{ inputIds: model\.tokenizer\.encode\(text\) \}\.$/],
    [{ inputIds: 'abc' }, /inputIds must be a list of token ids \(got "abc"\)/],
    [{ inputIds: new Set([1, 2]) }, /inputIds must be a list of token ids/],
    [{ inputIds: [1, 2, 3], prefill: 2 }, /^the evaluate request has no option "prefill" \(it takes inputIds, prefillTokens, kv, router, signal\)/],
    [{ inputIds: [1, 2, 3], prefill_tokens: 2 }, /has no option "prefill_tokens"; did you mean "prefillTokens"\?/],
  ])('rejects the evaluation request %j with an InvalidOptionsError', async (request, message) => {
    const model = await weft.load(fixture('tiny'));
    const error = await model.evaluate(request as never).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    // A typed array of ids is a list of ids.
    expect((await model.evaluate({ inputIds: Int32Array.from([1, 40, 50, 60]) as never })).tokens).toBe(3);
    await model.dispose();
  });

  it.each([
    [{ onnx_file: 'onnx/model.onnx' }, /^load options has no option "onnx_file"; did you mean "onnxFile"\?/],
    [{ threads: 2 }, /^load options has no option "threads" \(it takes backend, session, onnxFile, failover, tokenizer, probeTimeoutMs, sessionTimeoutMs, fetchTimeoutMs, disposeTimeoutMs, signal\)/],
  ])('refuses the misspelled load option %j', async (options, message) => {
    const error = await weft.load(fixture('tiny'), options as never).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses a generate request that is not an object', async () => {
    const model = await weft.load(fixture('tiny'));
    await expect(collect(model.generate('Once upon a time' as never))).rejects.toThrow(/^generate takes a request object such as \{ prompt: 'Once upon a time' \} \(got "Once upon a time"\)/);
    await model.dispose();
  });

  it.each([
    ['yes', /failover must be true, false or \{ backends\?, runTimeoutMs\?, breaker\? \} \(got "yes"\)/, 'failover'],
    [{ runTimeoutMs: 'abc' }, /failover\.runTimeoutMs must be a whole number of milliseconds/, 'failover.runTimeoutMs'],
    [{ runTimeoutMs: 0 }, /failover\.runTimeoutMs must be a whole number of milliseconds/, 'failover.runTimeoutMs'],
    [{ backends: 'node' }, /failover\.backends must be a list of backend names/, 'failover.backends'],
    [{ breaker: { failureThreshold: -1 } }, /failureThreshold must be a whole number >= 1/, 'failover.breaker.failureThreshold'],
    [{ breaker: { cooldownMs: 'x' } }, /cooldownMs must be a whole number of milliseconds from 0/, 'failover.breaker.cooldownMs'],
    [{ breaker: 3 }, /failover\.breaker must be \{ failureThreshold\?, cooldownMs\? \}/, 'failover.breaker'],
    [{ runTimeout: 100 }, /failover has no option "runTimeout" \(it takes backends, runTimeoutMs, breaker\)/, 'failover.runTimeout'],
  ])('rejects the failover option %j at load', async (failover, message, option) => {
    const error = await weft.load(fixture('tiny'), { failover: failover as never }).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect((error as InvalidOptionsError).option).toBe(option);
  });

  it('rejects a prompt longer than the context with a ContextOverflowError', async () => {
    const model = await weft.load(fixture('tiny'));
    const error = await collect(model.generate({ inputIds: new Array(300).fill(5) })).catch((e: unknown) => e);
    expect(ContextOverflowError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ promptTokens: 300, contextLength: 256 });
    await model.dispose();
  });

  it('caps new tokens at the context length', async () => {
    const model = await weft.load(fixture('tiny'));
    const events = await collect(model.generate({ inputIds: new Array(250).fill(5), maxTokens: 100 }));
    const last = events.at(-1);
    expect(last?.type === 'done' && last.usage.completionTokens).toBeLessThanOrEqual(6);
    await model.dispose();
  });

  it('fails generation on a disposed model with a clear error', async () => {
    const model = await weft.load(fixture('tiny'));
    await model.dispose();
    await model.dispose();
    await expect(collect(model.generate({ prompt: 'x' }))).rejects.toThrow(ModelDisposedError);
    // A rejected promise, not a synchronous throw: .catch() sees it.
    const evaluated = model.evaluate({ inputIds: [1, 2, 3] });
    await expect(evaluated).rejects.toThrow(ModelDisposedError);
  });
});

describe('loading over HTTP', () => {
  it('loads a folder served at a URL and generates the same tokens as from disk', async () => {
    const root = fixture('tiny');
    const server = await serveFolder(root);
    const weft = runtime();
    try {
      const fromDisk = await weft.load(root);
      const fromHttp = await weft.load(server.url);
      const request = { prompt: 'Once upon a time', maxTokens: 12 };
      const ids = async (m: typeof fromDisk) => (await collect(m.generate(request))).flatMap((e) => (e.type === 'token' ? [e.id] : []));
      expect(await ids(fromHttp)).toEqual(await ids(fromDisk));
      await expect(weft.load(`${server.url}missing/`)).rejects.toThrow(/No model at .*config\.json was not found/);
    } finally {
      await weft.dispose();
      server.close();
    }
  });

  it('asks a server that refuses HEAD (405, 501) with a GET instead, once it has refused, and loads the same model', async () => {
    for (const status of [405, 501]) {
      const server = await serveFolder(fixture('tiny'), {
        respond: ({ req, res }) => {
          if (req.method !== 'HEAD') return false;
          res.writeHead(status);
          res.end();
          return true;
        },
      });
      const weft = runtime();
      try {
        const model = await weft.load(server.url);
        expect((await collect(model.generate({ prompt: 'Once upon a time', maxTokens: 4 }))).some((e) => e.type === 'token')).toBe(true);
        // Refused once, then every size comes from a GET's headers.
        expect(server.requested.filter((r) => r.startsWith('HEAD '))).toHaveLength(1);
        await expect(weft.load(`${server.url}missing/`)).rejects.toThrow(/No model at .*config\.json was not found/);
      } finally {
        await weft.dispose();
        server.close();
      }
    }
  });

  it('reads bodies sent with a length, in chunks without one, or gzip-encoded (a length that is not the body\'s) alike', async () => {
    const { gzipSync } = await import('node:zlib');
    const root = fixture('tiny');
    let mode: 'length' | 'chunked' | 'gzip' = 'length';
    const server = await serveFolder(root, {
      respond: ({ body, req, res }) => {
        if (req.method === 'HEAD' || mode === 'length') return false;
        if (mode === 'gzip') {
          const zipped = gzipSync(body);
          res.writeHead(200, { 'content-length': zipped.byteLength, 'content-encoding': 'gzip' });
          res.end(zipped);
        } else {
          // No length: Node sends it chunked, here in uneven pieces.
          res.writeHead(200);
          for (let at = 0, size = 1; at < body.byteLength; at += size, size = (size * 7) % 65_537 + 1) res.write(body.subarray(at, at + size));
          res.end();
        }
        return true;
      },
    });
    const weft = runtime();
    try {
      const request = { prompt: 'Once upon a time', maxTokens: 12 };
      const ids = async (m: Awaited<ReturnType<typeof weft.load>>) => (await collect(m.generate(request))).flatMap((e) => (e.type === 'token' ? [e.id] : []));
      const expected = await ids(await weft.load(root));
      for (const m of ['length', 'chunked', 'gzip'] as const) {
        mode = m;
        expect(await ids(await weft.load(server.url))).toEqual(expected);
      }
    } finally {
      await weft.dispose();
      server.close();
    }
  });

  it('keeps a URL graph\'s bytes only while a fallback backend may need them', async () => {
    const collectGarbage = exposedGc();
    const server = await serveFolder(fixture('tiny'));
    /** A node backend that remembers, weakly, the graph bytes it was given. */
    let graph: WeakRef<Uint8Array> | undefined;
    const watching = definePlugin({
      name: 'watching-backend',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup(ctx) {
        ctx.register('backend', {
          name: 'watching',
          priority: 1000,
          create: () => {
            const inner = new NodeBackendAdapter({ intraOpNumThreads: 1 });
            return {
              specificationVersion: 'v1',
              name: 'watching',
              probe: () => inner.probe(),
              createSession(source: ModelSource, options?: SessionOptions) {
                if (source.kind === 'bytes') graph = new WeakRef(source.bytes);
                return inner.createSession(source, options);
              },
            };
          },
        });
      },
    });
    const weft = runtime([watching]);
    const graphAfterLoad = async (options: { failover?: boolean }) => {
      graph = undefined;
      const model = await weft.load(server.url, { backend: 'watching', ...options });
      expect(model.backend).toBe('watching');
      // WeakRefs hold their target until the current job ends: collect on a later turn.
      await new Promise((resolve) => setTimeout(resolve, 0));
      collectGarbage();
      // Set by the backend during load: the narrowing from `graph = undefined` above does not see that.
      return (graph as WeakRef<Uint8Array> | undefined)?.deref();
    };
    try {
      expect(await graphAfterLoad({})).toBeUndefined();
      // With failover the node backend may need to open a session of its own from the same bytes.
      expect(await graphAfterLoad({ failover: true })).toBeInstanceOf(Uint8Array);
    } finally {
      await weft.dispose();
      server.close();
    }
  });

  it('names the file when a server answers missing files with a page, drops the graph mid-body, or stalls', async () => {
    let graphMode: 'truncate' | 'stall' | 'ok' = 'ok';
    const stalled: import('node:http').ServerResponse[] = [];
    const server = await serveFolder(fixture('tiny'), {
      respond: ({ path, body, req, res }) => {
        if (!path.endsWith('.onnx') || req.method !== 'GET' || graphMode === 'ok') return false;
        res.writeHead(200, { 'content-length': body.byteLength });
        res.write(body.subarray(0, 10));
        if (graphMode === 'truncate') setTimeout(() => res.destroy(), 20);
        else stalled.push(res);
        return true;
      },
      // A single-page-app server: every missing file is its page, with status 200.
      missing: (req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(req.method === 'HEAD' ? undefined : '<!doctype html><html></html>');
      },
    });
    const url = server.url;
    const weft = runtime();
    try {
      // The fixture has a generation_config.json; the page comes back for a file that is missing.
      const page = await weft.load(`${url}nope/`).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(page)).toBe(true);
      expect((page as Error).message).toMatch(/nope\/config\.json was served as an HTML page \(content-type text\/html\), not the file/);
      graphMode = 'truncate';
      const cut = await weft.load(url).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(cut)).toBe(true);
      expect((cut as Error).message).toMatch(/Cannot fetch .*model\.onnx: the download broke off/);
      graphMode = 'stall';
      const stall = await weft.load(url, { sessionTimeoutMs: 300 }).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(stall)).toBe(true);
      expect((stall as Error).message).toMatch(/Reading .*model\.onnx did not finish within 300 ms \(a stalled server\?\)/);
    } finally {
      for (const res of stalled) res.destroy();
      await weft.dispose();
      server.close();
    }
  });

  it('behind a server that answers missing files with its page (Vite), finds the merged decoder; a named graph served as a page is refused', async () => {
    const page = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(req.method === 'HEAD' ? undefined : '<!doctype html><html></html>');
    };
    const server = await serveFolder(fixture('tiny-merged'), { missing: page });
    const weft = runtime();
    try {
      // onnx/model.onnx is the page: the search goes on to onnx/decoder_model_merged.onnx.
      const model = await weft.load(server.url);
      expect(model.layout.useCacheBranch).toBeDefined();
      expect((await model.text({ prompt: 'Once', maxTokens: 4 })).length).toBeGreaterThan(0);
      const named = await weft.load(server.url, { onnxFile: 'onnx/model.onnx' }).catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(named)).toBe(true);
      expect((named as Error).message).toMatch(/onnx\/model\.onnx was served as an HTML page \(content-type text\/html\), not the file/);
    } finally {
      await weft.dispose();
      server.close();
    }
  });
});

describe('tokenizer.json ids far past the tokens it defines', () => {
  it('are refused without building the tokenizer', async () => {
    const { largestTokenizerId, tokenizerIdFarOut } = await import('../src/model/tokenizer-ids.js');
    const json = { model: { vocab: { a: 0, b: 1 } }, added_tokens: [{ id: 2 ** 31 - 2, content: '<|far|>' }] };
    const largest = largestTokenizerId(json, 'tokenizer.json')!;
    expect(largest).toEqual({ id: 2 ** 31 - 2, where: 'added_tokens[0] ("<|far|>")', defined: 3 });
    expect(tokenizerIdFarOut(largest, 'tokenizer.json')?.message).toMatch(/^tokenizer\.json gives added_tokens\[0\] \("<\|far\|>"\) the id 2147483646 but defines only 3 tokens/);
    // A dense vocabulary, and a gap under 2^20, are fine.
    expect(tokenizerIdFarOut({ id: 262_143, where: 'x', defined: 262_144 }, 'tokenizer.json')).toBeUndefined();
    expect(tokenizerIdFarOut({ id: 2 ** 20 + 1, where: 'x', defined: 2 }, 'tokenizer.json')).toBeUndefined();
  });
});
