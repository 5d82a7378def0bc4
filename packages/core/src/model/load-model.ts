import { join } from 'node:path';
import { ModelLoadError } from '../errors/model-load-error.js';
import { WeftError } from '../errors/weft-error.js';
import type { GenerationContext } from '../generation/generation-context.js';
import type { OwnedHooks } from '../runtime/tokens.js';
import type { InferenceSession } from '../spec/backend.js';
import type { AdapterRegistry } from '../spec/registry.js';
import type { LoadOptions } from '../spec/runtime.js';
import { HfTokenizer } from '../tokenizer/hf-tokenizer.js';
import { DefaultWeftModel } from './default-weft-model.js';
import { parseGenerationConfig } from './generation-config.js';
import { readKvLayout } from './kv-layout.js';
import { parseModelConfig } from './model-config.js';
import { assertFolder, findGraph, readJson } from './model-files.js';
import { selectBackend } from './select-backend.js';

/**
 * Loads a Hugging Face style folder: configs and tokenizer first (cheap, fail fast), then the
 * graph on the chosen backend, then checks the graph against the config. A session is released
 * whenever a later check fails.
 */
export async function loadModel(
  dir: string,
  options: LoadOptions,
  runtime: { readonly registry: AdapterRegistry; readonly hooks: readonly OwnedHooks[] },
  onDispose?: (model: DefaultWeftModel) => void,
): Promise<DefaultWeftModel> {
  await assertFolder(dir);
  const config = parseModelConfig(await readJson(dir, 'config.json', true), join(dir, 'config.json'));
  const generationConfig = parseGenerationConfig(await readJson(dir, 'generation_config.json', false), config);
  const tokenizerJson = await readJson(dir, 'tokenizer.json', true);
  const tokenizerConfig = ((await readJson(dir, 'tokenizer_config.json', false)) ?? {}) as Record<string, unknown>;
  const tokenizer = new HfTokenizer(tokenizerJson, tokenizerConfig, join(dir, 'tokenizer.json'));
  const graph = await findGraph(dir, options.onnxFile);
  const adapter = await selectBackend(runtime.registry, options.backend ?? 'auto');
  let session: InferenceSession;
  try {
    session = await adapter.createSession({ kind: 'path', path: graph }, options.session);
  } catch (cause) {
    if (WeftError.isInstance(cause) && cause.code !== 'backend') throw cause;
    throw new ModelLoadError(
      `The ${adapter.name} backend could not load ${graph} (corrupt or truncated ONNX file?): ${(cause as Error).message}`,
      { path: graph, cause },
    );
  }
  try {
    const layout = readKvLayout(session, config, graph);
    const context: GenerationContext = {
      session,
      backend: adapter.name,
      layout,
      config,
      generationConfig,
      tokenizer,
      registry: runtime.registry,
      hooks: runtime.hooks,
    };
    return new DefaultWeftModel(dir, context, onDispose);
  } catch (error) {
    await session.release();
    throw error;
  }
}
