import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers.js';

/** The project's own model (committed), so these tests always run. */
const story = fileURLToPath(new URL('../../../models/story', import.meta.url));
const PROMPT = 'Once upon a time, there was a little fox named Tom. Tom lived in a big forest with his mother.';

const TEXT = `Once upon a time, there was a little girl named Mia. Mia had a red kite. Every day she flew her kite in the park near her house. One day, the wind was very strong and the kite flew up into a tall tree. Mia was sad. Her friend Ben came and helped her get the kite down. "Thank you, Ben!" said Mia. They played with the kite together until the sun went down.
`;

const generate = (...args: string[]) => cli(['generate', '--model', story, '--threads', '1', '--json', '--prompt', PROMPT, '--max-tokens', '24', ...args]);
const evaluate = (file: string, ...args: string[]) => cli(['eval', '--model', story, '--threads', '1', '--json', '--text-file', file, ...args]);
const doneLine = (records: Record<string, unknown>[]) => records.at(-1) as { type: string; ids: number[] };

describe('weft generate/eval --kv and --router on models/story', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-cli-pipeline-'));
    file = join(dir, 'text.txt');
    await writeFile(file, TEXT);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('--kv fp32 and --router full give exactly the tokens of the default pipeline', async () => {
    const plain = await generate();
    const explicit = await generate('--kv', 'fp32', '--router', 'full');
    expect(plain.code).toBe(0);
    expect(explicit.code).toBe(0);
    expect(doneLine(explicit.json()).ids).toEqual(doneLine(plain.json()).ids);
    expect(doneLine(plain.json()).ids.length).toBe(24);
  });

  it('generates with a compressor and a router given with options', async () => {
    const result = await generate('--kv', 'int4:group=32', '--router', 'sink-window:sinks=4,window=16');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(doneLine(result.json()).ids.length).toBe(24);
  });

  it('picks the attention-output graph for heavy-hitter', async () => {
    const result = await generate('--router', 'heavy-hitter:budget=16');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // The same router on the plain graph fails with an explanation (exit 2, one line).
    const plainGraph = await generate('--router', 'heavy-hitter:budget=16', '--onnx-file', 'onnx/model.onnx');
    expect(plainGraph.code).toBe(2);
    expect(plainGraph.stderr).toMatch(/attentions/);
  });

  it('says which graph is missing when heavy-hitter runs on a folder without the attention graph', async () => {
    const folder = join(dir, 'no-attentions');
    await cp(story, folder, { recursive: true });
    await rm(join(folder, 'onnx/model_with_attentions.onnx'));
    const result = await cli(['generate', '--model', folder, '--threads', '1', '--prompt', PROMPT, '--router', 'heavy-hitter:budget=16']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^weft: --router heavy-hitter reads attention probabilities, but .*model_with_attentions\.onnx is not there; make it/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('eval --json reports kvBytes against kvBytesFp32 for each compressor', async () => {
    const fp32 = JSON.parse((await evaluate(file)).stdout) as Record<string, number>;
    expect(fp32['kvBytes']).toBe(fp32['kvBytesFp32']);
    const int8 = await evaluate(file, '--kv', 'int8');
    expect(int8.code).toBe(0);
    const report = JSON.parse(int8.stdout) as Record<string, number>;
    expect(report['kvBytesFp32']).toBe(fp32['kvBytesFp32']);
    // int8 with fp16 scale and zero point per group of 32: (32 + 4) / 128 of float32.
    expect(report['kvBytes']! / report['kvBytesFp32']!).toBeCloseTo(36 / 128, 2);
    expect(Math.abs(report['perplexity']! / fp32['perplexity']! - 1)).toBeLessThan(0.01);
    expect(report['msPerToken']).toBeGreaterThan(0);
  });

  it('eval --router caps the cache at its budget', async () => {
    const full = JSON.parse((await evaluate(file)).stdout) as Record<string, number>;
    const windowed = await evaluate(file, '--router', 'window:budget=32');
    expect(windowed.code).toBe(0);
    const report = JSON.parse(windowed.stdout) as Record<string, number>;
    expect(full['tokens']).toBeGreaterThan(33);
    expect(report['tokens']).toBe(full['tokens']);
    // evaluate() leaves one cached slot per scored token; the router keeps 32 of them.
    expect(report['kvBytes']).toBe((full['kvBytes']! / full['tokens']!) * 32);
  });

  it.each([
    // An unknown name: the flag first, the closest names, then every registered one.
    [['--kv', 'int3'], /^weft: --kv: unknown store "int3"; did you mean int8 or int4\? \(fp32, fp16, int8, int4, kivi, temporal\)\n$/],
    [['--kv', 'kivii:residual=16'], /^weft: --kv: unknown store "kivii"; did you mean kivi\? \(fp32, fp16, int8, int4, kivi, temporal\)\n$/],
    [['--router', 'sink-windw'], /^weft: --router: unknown router "sink-windw"; did you mean sink-window\? \(full, window, sink-window, strided, heavy-hitter, key-norm, hybrid, content-aware\)\n$/],
    [['--router', 'nope'], /^weft: --router: unknown router "nope" \(full, window, sink-window, .*content-aware\)\n$/],
    [['--kv', 'int4:bogus=1'], /Unknown option "bogus".*Valid options of "int4": group/],
    [['--router', 'window:budget=-3'], /budget/],
    [['--kv', 'int4:group'], /--kv/],
  ])('rejects %j with exit code 2 and a message listing what is valid', async (args, message) => {
    const result = await generate(...args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
