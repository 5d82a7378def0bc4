import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { HfTokenizer } from '@weft/core';
import { cli, generateJson as generateOn, MODELS, storyModel } from './helpers.js';

interface TokenLine { type: 'token'; id: number; text: string }
interface TextLine { type: 'text'; text: string }
interface DoneLine {
  type: 'done';
  ids: number[];
  text: string;
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  ttftMs: number;
  msPerToken: number;
  backend: string;
}

function lines(records: Record<string, unknown>[]) {
  const done = records.at(-1) as unknown as DoneLine;
  expect(done.type).toBe('done');
  const tokens = records.filter((r) => r['type'] === 'token') as unknown as TokenLine[];
  const texts = records.filter((r) => r['type'] === 'token' || r['type'] === 'text') as unknown as (TokenLine | TextLine)[];
  expect(records[0]).toMatchObject({ type: 'backend', backend: expect.any(String), rejected: expect.any(Array) });
  expect(records.slice(1).every((r) => ['token', 'text', 'failover', 'done'].includes(r['type'] as string))).toBe(true);
  return { done, tokens, streamedText: texts.map((t) => t.text).join('') };
}

describe.each(MODELS)('weft generate on $name', (model) => {
  const generateJson = (...args: string[]) => generateOn(model.dir, ...args);
  it('streams one token line per generated id, then a done line that agrees with them', async () => {
    const result = await generateJson('--prompt', 'Once upon a time', '--max-tokens', '24');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const { done, tokens, streamedText } = lines(result.json());
    expect(tokens.map((t) => t.id)).toEqual(done.ids);
    expect(streamedText).toBe(done.text);
    expect(done.completionTokens).toBe(done.ids.length);
    expect(done.ids.length).toBeGreaterThan(0);
    expect(done.text).toMatch(/\w/);
    expect(done.backend).toBe('node');
    expect(['length', 'eos']).toContain(done.finishReason);
    expect(done.ttftMs).toBeGreaterThan(0);
    expect(done.msPerToken).toBeGreaterThan(0);
    // The whole run's time, for tokens/s as the text mode's stats line gives it.
    expect((done as unknown as { durationMs: number }).durationMs).toBeGreaterThanOrEqual(done.ttftMs);
  });

  it('passes --prompt-ids verbatim (no BOS added) and they give what the encoded prompt gives', async () => {
    const raw = await generateJson('--prompt-ids', '400,300,286', '--max-tokens', '8');
    expect(raw.code).toBe(0);
    expect(lines(raw.json()).done.promptTokens).toBe(3);

    const tokenizer = new HfTokenizer(
      JSON.parse(readFileSync(join(model.dir, 'tokenizer.json'), 'utf8')),
      JSON.parse(readFileSync(join(model.dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>,
    );
    const ids = tokenizer.encode('Once upon a time');
    expect(ids[0]).toBe(1); // BOS
    const fromText = lines((await generateJson('--prompt', 'Once upon a time', '--max-tokens', '12')).json()).done;
    const fromIds = lines((await generateJson('--prompt-ids', ids.join(','), '--max-tokens', '12')).json()).done;
    expect(fromText.promptTokens).toBe(ids.length);
    expect(fromIds.promptTokens).toBe(ids.length);
    expect(fromIds.ids).toEqual(fromText.ids);
  });

  it('ends at a --stop string, which never appears in the output', async () => {
    const free = lines((await generateJson('--prompt', 'Once upon a time', '--max-tokens', '40')).json()).done;
    // A word from the second half of the unconstrained story, with its leading space.
    const at = free.text.indexOf(' ', Math.floor(free.text.length / 2));
    expect(at).toBeGreaterThan(0);
    const stop = free.text.slice(at, at + 5);
    const result = await generateJson('--prompt', 'Once upon a time', '--max-tokens', '40', '--stop', stop, '--stop', 'zebra');
    expect(result.code).toBe(0);
    const { done, tokens, streamedText } = lines(result.json());
    expect(done.finishReason).toBe('stop');
    expect(done.text).not.toContain(stop);
    expect(result.stdout).not.toContain(stop);
    expect(streamedText).toBe(done.text);
    expect(done.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
    expect(tokens.map((t) => t.id)).toEqual(done.ids);
  });

  it('sends text held back for a stop string that never completed in a final text line', async () => {
    const free = lines((await generateJson('--prompt', 'Once upon a time', '--max-tokens', '8')).json()).done;
    const stop = `${free.text.slice(-3)}\u0007never`; // its start is the end of the output; the rest never comes
    const result = await generateJson('--prompt', 'Once upon a time', '--max-tokens', '8', '--stop', stop);
    const records = result.json();
    const { done, tokens, streamedText } = lines(records);
    expect(done.finishReason).toBe('length');
    expect(done.text).toBe(free.text);
    expect(tokens.map((t) => t.text).join('')).not.toBe(done.text); // held back from the token lines…
    expect(records.at(-2)).toEqual({ type: 'text', text: expect.stringMatching(/.+/) }); // …released before done
    expect(streamedText).toBe(done.text);
  });

  it('gives identical ids for the same --seed when sampling, and different ones for another seed', async () => {
    const sample = async (seed: string) =>
      lines((await generateJson('--prompt', 'Once upon a time', '--max-tokens', '30', '--temperature', '1', '--top-k', '50', '--seed', seed)).json()).done
        .ids;
    const a = await sample('42');
    expect(await sample('42')).toEqual(a);
    expect(await sample('43')).not.toEqual(a);
  });

  it('streams plain text to stdout and a stats line to stderr without --json', async () => {
    const result = await cli(['generate', '--model', model.dir, '--threads', '1', '--prompt', 'Once upon a time', '--max-tokens', '16']);
    expect(result.code).toBe(0);
    const json = lines((await generateJson('--prompt', 'Once upon a time', '--max-tokens', '16')).json()).done;
    // Byte for byte off a terminal: no newline is added after the text.
    expect(result.stdout).toBe(json.text);
    expect(result.stderr).toMatch(/^\[16 tokens, [\d.]+ tokens\/s, ttft [\d.]+ ms, [\d.]+ ms\/token, finish length\]\n$/);
  });

  it('stops on abort and still reports the result, with finishReason abort and exit code 130', async () => {
    const controller = new AbortController();
    const result = await cli(['generate', '--model', model.dir, '--threads', '1', '--json', '--prompt', 'Once upon a time', '--max-tokens', '200'], {
      signal: controller.signal,
      onStdout: (chunk) => {
        if (chunk.includes('"type":"token"')) controller.abort();
      },
    });
    expect(result.code).toBe(130);
    const { done, tokens } = lines(result.json());
    expect(done.finishReason).toBe('abort');
    expect(tokens).toHaveLength(1);
    expect(done.ids).toEqual(tokens.map((t) => t.id));
  });

  it('reports typed errors from core as exit code 2', async () => {
    const outOfVocab = await generateJson('--prompt-ids', `1,${model.vocab}`);
    expect(outOfVocab.code).toBe(2);
    expect(outOfVocab.stderr).toBe(`weft: --prompt-ids: inputIds must be integers in [0, ${model.vocab}).\n`);
    // A load option names its flag too.
    const outside = await generateJson('--onnx-file', '../elsewhere/model.onnx', '--prompt', 'Hi', '--max-tokens', '2');
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/^weft: --onnx-file: onnxFile must be a path inside the model folder, relative to it/);
    // An empty --onnx-file is refused, as by eval and info, not taken as "the default graph".
    for (const command of ['generate', 'eval', 'info']) {
      const empty = await cli([command, '--model', model.dir, '--onnx-file', '', ...(command === 'eval' ? ['--text-file', 'x'] : command === 'generate' ? ['--prompt', 'Hi'] : [])]);
      expect(empty.code, command).toBe(2);
      expect(empty.stderr, command).toBe('weft: --onnx-file needs a graph file within the model folder, such as onnx/model.onnx\n');
    }
    const chat = await generateJson('--messages', '[{"role":"user","content":"Hi"}]', '--max-tokens', '2');
    if (model.chatTemplate) {
      expect(chat.code).toBe(0);
    } else {
      expect(chat.code).toBe(2);
      expect(chat.stderr).toMatch(/^weft: --messages: This model has no chat_template/);
    }
    const tooLong = await generateJson('--prompt-ids', new Array(model.context).fill(1).join(','));
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toMatch(new RegExp(`^weft: The prompt has ${model.context} tokens but the model's context is ${model.context}`));
  });

  it('says on stderr, in one line, when --max-tokens is more than the context leaves and what it was capped to', async () => {
    const ids = new Array(model.context - 3).fill(1).join(',');
    const note = `weft: note: --max-tokens 10 is more than the context leaves, so it is capped to 3 (the prompt takes ${model.context - 3} of the model's ${model.context} positions)\n`;
    const capped = await generateJson('--prompt-ids', ids, '--max-tokens', '10');
    expect(capped.code).toBe(0);
    // --json: the note is on stderr; stdout holds only the records.
    expect(capped.stderr).toBe(note);
    const { done } = lines(capped.json());
    expect(done.completionTokens).toBeLessThanOrEqual(3);
    if (done.finishReason === 'length') expect(done.completionTokens).toBe(3);
    // Without --json: the note comes before the stats line.
    const text = await cli(['generate', '--model', model.dir, '--threads', '1', '--prompt-ids', ids, '--max-tokens', '10']);
    expect(text.code).toBe(0);
    expect(text.stderr.startsWith(note)).toBe(true);
    expect(text.stderr.slice(note.length)).toMatch(/^\[\d+ tokens?, [^\n]*\]\n$/);
    // What fits, and the default (documented as capped), say nothing.
    expect((await generateJson('--prompt-ids', ids, '--max-tokens', '3')).stderr).toBe('');
    expect((await generateJson('--prompt-ids', ids)).stderr).toBe('');
  });
});

describe('a missing model folder', () => {
  it('exits 2 with a message naming the path', async () => {
    const missing = join(tmpdir(), 'weft-cli-no-such-model');
    const result = await cli(['generate', '--model', missing, '--prompt', 'Hi']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`weft: Model folder ${missing} does not exist.\n`);
  });
});

describe('weft generate --backend on models/story', () => {
  const generateJson = (...args: string[]) => generateOn(storyModel, ...args);
  it('shows the auto choice and why the others were passed over', async () => {
    const records = (await generateJson('--backend', 'auto', '--prompt', 'Once upon a time', '--max-tokens', '4')).json();
    const backend = records[0] as { backend: string; rejected: { name: string; reason: string }[] };
    expect(backend.backend).toBe('node');
    // No NPU here: the npu backend's probe says so, and auto falls through to node.
    expect(backend.rejected.find((r) => r.name === 'npu')?.reason).toMatch(/^unavailable: no NPU execution provider is usable/);
    expect(backend.rejected.find((r) => r.name === 'web')?.reason).toBe('lower priority');
  });

  it('gives the same greedy ids on the web (wasm) backend as on node', async () => {
    const ids = async (backend: string) =>
      ((await generateJson('--backend', backend, '--prompt', 'Once upon a time', '--max-tokens', '16')).json().at(-1) as { ids: number[]; backend: string });
    const [node, web] = [await ids('node'), await ids('web')];
    expect(web.backend).toBe('web');
    expect(web.ids).toEqual(node.ids);
  });
});

describe('weft demo with a --max-tokens the context cannot hold', () => {
  it('caps it and says so on stderr after the story, before the stats line', async () => {
    // The tiny fixture's context is 256 positions.
    const tiny = fileURLToPath(new URL('../../core/test/fixtures/tiny', import.meta.url));
    const result = await cli(['demo', '--model', tiny, '--threads', '1', '--max-tokens', '1000', '--seed', '1']);
    expect(result.code).toBe(0);
    const [note, stats, rest] = result.stderr.split('\n');
    const prompt = Number(/the prompt takes (\d+) of the model's 256 positions\)$/.exec(note!)?.[1]);
    expect(note).toBe(`weft: note: --max-tokens 1000 is more than the context leaves, so it is capped to ${256 - prompt} (the prompt takes ${prompt} of the model's 256 positions)`);
    expect(stats).toMatch(/^\[\d+ tokens?, .* seed 1$/);
    expect(rest).toBe('');
    // Its default (200 new tokens) fits: nothing to say.
    expect((await cli(['demo', '--model', tiny, '--threads', '1', '--seed', '1'])).stderr).toMatch(/^\[\d+ tokens?, [^\n]* seed 1\n$/);
  });
});
