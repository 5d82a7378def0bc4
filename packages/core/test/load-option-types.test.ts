import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, type LoadOptions } from '../src/index.js';
import { runtime, storyModel } from './helpers.js';

describe('load options naming a backend or a graph must be non-empty strings', () => {
  const weft = runtime();

  it.each([
    ['backend', { backend: 5 }],
    ['backend', { backend: '' }],
    ['backend', { backend: null }],
    ['onnxFile', { onnxFile: '' }],
    ['onnxFile', { onnxFile: 5 }],
    ['onnxFile', { onnxFile: null }],
  ])('%s in %j is an InvalidOptionsError naming the option', async (option, options) => {
    // Before: backend 5 or "" became an AdapterResolutionError, backend null and onnxFile "" loaded
    // the default without a word, onnxFile 5 became a ModelLoadError for a file named "5".
    const error = await weft.load(storyModel, options as unknown as LoadOptions).catch((e: unknown) => e);
    expect(InvalidOptionsError.isInstance(error)).toBe(true);
    expect((error as InvalidOptionsError).option).toBe(option);
    expect((error as Error).message).toContain(`${option} must be`);
  });

  it('still loads with both given, or both left out', async () => {
    const named = await weft.load(storyModel, { backend: 'node', onnxFile: 'onnx/model.onnx' });
    const defaults = await weft.load(storyModel, { backend: undefined, onnxFile: undefined } as unknown as LoadOptions);
    expect([named.backend, defaults.backend]).toEqual(['node', 'node']);
    await Promise.all([named.dispose(), defaults.dispose(), weft.dispose()]);
  });
});
