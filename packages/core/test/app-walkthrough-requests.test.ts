import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AdapterResolutionError, InvalidOptionsError, ModelLoadError, type GenerationRequest, type WeftModel } from '../src/index.js';
import { collect, fixture, runtime } from './helpers.js';

// An application developer's walkthrough: a request naming a store or router nothing registered
// failed with an AdapterResolutionError without `option` (a server answers InvalidOptionsError as
// 400, and this one as 500); `temperature: Infinity` was "a number >= 0"; and a relative model
// folder that is missing did not say where it was looked for.

const weft = runtime();
afterAll(() => weft.dispose());
let loaded: Promise<WeftModel> | undefined;
const tiny = (): Promise<WeftModel> => (loaded ??= weft.load(fixture('tiny')));

async function failure(request: GenerationRequest): Promise<unknown> {
  const model = await tiny();
  return collect(model.generate(request)).then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('a request naming a component nothing registered', () => {
  it.each([
    [{ kv: 'int4' }, 'kv', /^No kv-cache adapter matches "int4": registered: fp32 \(different name\); it comes with @weft\/plugin-kv: add kvCompressors\(\) to createWeft's plugins \(installing @weft\/plugin-kv first if it is not\)\.$/],
    [{ kv: { name: 'kv-quant', options: {} } }, 'kv', /; it comes with @weft\/plugin-kv: add kvQuant\(\{ bits \}\) to createWeft's plugins \(installing @weft\/plugin-kv first if it is not\)\.$/],
    [{ router: 'sink-window' }, 'router', /^No attention-router adapter matches "sink-window": no attention-router adapters are registered \(add a plugin that provides one\); it comes with @weft\/plugin-attention: add attentionRouters\(\) to createWeft's plugins \(installing @weft\/plugin-attention first if it is not\)\.$/],
    [{ router: { name: 'heavy-hitter' } }, 'router', /it comes with @weft\/plugin-attention/],
    [{ analyzers: ['router-decisions'] }, 'analyzers[0]', /^No analyzer adapter matches "router-decisions": .*; it comes with @weft\/plugin-attention: add attentionRouters\(\)/],
    // Names no bundled plugin has: the registry's list only.
    [{ kv: 'int3' }, 'kv', /^No kv-cache adapter matches "int3": registered: fp32 \(different name\)\.$/],
    [{ processors: ['nope'] }, 'processors[0]', /^No logits-processor adapter matches "nope": no logits-processor adapters are registered \(add a plugin that provides one\)\.$/],
    [{ sampler: 'mirostat' }, 'sampler', /^No sampler adapter matches "mirostat": /],
  ] as const)('%j is an InvalidOptionsError naming the field, with the resolution as cause', async (fields, option, message) => {
    const error = await failure({ prompt: 'Once', maxTokens: 2, ...(fields as Partial<GenerationRequest>) });
    expect(InvalidOptionsError.isInstance(error), String(error)).toBe(true);
    expect(error).toMatchObject({ option, code: 'invalid-options' });
    expect((error as Error).message).toMatch(message);
    const cause = (error as Error).cause;
    expect(AdapterResolutionError.isInstance(cause)).toBe(true);
    // The message starts with the resolution's, which lists the registered entries.
    expect((error as Error).message.startsWith((cause as Error).message)).toBe(true);
  });

  it('is the same for evaluate', async () => {
    const model = await tiny();
    const error = await model.evaluate({ inputIds: [1, 40, 50], kv: 'int8' }).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ option: 'kv' });
    expect((error as Error).message).toMatch(/it comes with @weft\/plugin-kv/);
  });

  it("leaves load's backend an AdapterResolutionError (a load option, not a request field)", async () => {
    const error = await weft.load(fixture('tiny'), { backend: 'cuda' }).catch((e: unknown) => e);
    expect(AdapterResolutionError.isInstance(error)).toBe(true);
  });
});

describe('sampling options that are not finite', () => {
  it.each([
    ['temperature', Infinity, 'temperature must be a finite number >= 0 (0 = greedy) (got Infinity).'],
    ['temperature', Number.NaN, 'temperature must be a finite number >= 0 (0 = greedy) (got NaN).'],
    ['repetitionPenalty', Infinity, 'repetitionPenalty must be a finite number > 0 (1 = off) (got Infinity).'],
    ['topP', Infinity, 'topP must be in [0, 1] (0 keeps only the most likely token) (got Infinity).'],
    ['minP', -Infinity, 'minP must be in [0, 1] (1 keeps only the most likely tokens) (got -Infinity).'],
  ])('%s: %s says what it must be', async (option, value, message) => {
    const error = await failure({ prompt: 'Once', maxTokens: 2, [option]: value });
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ option, message });
  });
});

describe('a { name, options } reference with another field', () => {
  it('is an InvalidOptionsError naming the field (its options would otherwise be dropped silently)', async () => {
    const error = await failure({ prompt: 'Once', maxTokens: 2, router: { name: 'window', option: { budget: 2 } } as never });
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ option: 'router' });
    expect((error as Error).message).toBe('The attention-router reference router has no field "option"; did you mean "options"? (a reference takes name and options).');
    const other = await failure({ prompt: 'Once', maxTokens: 2, kv: { name: 'fp32', description: 'x' } as never });
    expect((other as Error).message).toBe('The kv-cache reference kv has no field "description" (a reference takes name and options).');
  });

  it('without a name, says which field a misspelled name or options was meant to be (review 28)', async () => {
    for (const [field, meant] of [
      ['Name', 'name'],
      ['nmae', 'name'],
      [' name ', 'name'],
      ['optons', 'options'],
    ] as const) {
      const error = await failure({ prompt: 'Once', maxTokens: 2, kv: { [field]: 'fp32' } as never });
      expect(error).toMatchObject({ option: 'kv', message: `The kv-cache reference kv has no field ${JSON.stringify(field)}; did you mean "${meant}"? (a reference takes name and options).` });
    }
    // Far from both, and no name: not taken for a reference with a typo, but told what a reference is (review 29).
    for (const value of [{ label: 'fp32' }, { bits: 4 }, ['fp32']]) {
      expect(((await failure({ prompt: 'Once', maxTokens: 2, kv: value as never })) as Error).message).toMatch(
        /^A kv-cache \(kv\) must be a registered name, \{ name, options \}, or an instance \(got an (object|array)\)/,
      );
    }
  });
});

describe('a missing model folder', () => {
  it('given relative, says the absolute path it looked for', async () => {
    const error = await weft.load('./no-such-weft-model').catch((e: unknown) => e);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe(`Model folder ./no-such-weft-model (${resolve('no-such-weft-model')}, relative to the working directory) does not exist.`);
    expect(error).toMatchObject({ path: './no-such-weft-model' });
  });

  it('given relative when the working directory itself was deleted, is still a ModelLoadError', async () => {
    const gone = await mkdtemp(join(tmpdir(), 'weft-gone-'));
    const back = process.cwd();
    process.chdir(gone);
    await rm(gone, { recursive: true, force: true });
    try {
      const error = await weft.load('no-such-weft-model').catch((e: unknown) => e);
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toBe('Model folder no-such-weft-model does not exist.');
    } finally {
      process.chdir(back);
    }
  });

  it('given absolute, says it as it is', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-walkthrough-'));
    try {
      const missing = join(dir, 'none');
      const error = await weft.load(missing).catch((e: unknown) => e);
      expect((error as Error).message).toBe(`Model folder ${missing} does not exist.`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
