import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@weft/backend-node';
import { afterAll, beforeAll } from 'vitest';
import { createWeft, type BackendAdapter, type BackendTensor, type CreateWeftOptions, type InferenceSession, type KvLayout, type Tokenizer, type WeftModel, type WeftPlugin } from '../src/index.js';
import { collect, done } from './events.js';

export { collect, done } from './events.js';
export { breakableFirstAndSecond, wrappedNodeBackend } from './wrapped-backend.js';

export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
export const storyModel = fileURLToPath(new URL('../../../models/story', import.meta.url));
export const stories260k = fileURLToPath(new URL('../../../../shared/models/stories260k', import.meta.url));
export const hasStories260k = existsSync(stories260k);
if (!hasStories260k) console.warn(`[weft tests] ${stories260k} is absent: third-party model tests are skipped.`);

/** V8's full garbage collection, exposed at run time (as `node --expose-gc` would), for tests of what is collected. */
export function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Each row's greedy token ids for `prompt` (one or a batch), `maxTokens` (24) each. */
export const greedy = async (model: WeftModel, prompt: string | string[], maxTokens = 24): Promise<(readonly number[])[]> =>
  done(await collect(model.generate({ prompt, maxTokens }))).rows.map((r) => r.ids);

/**
 * For the enclosing `describe`: a runtime that loads `fixture(variant)` and the plain `tiny` graph
 * (the same weights) before its tests and disposes of them after. The models are set on the
 * returned object once loaded.
 */
export function variantBesidePlain(variant: string): { readonly variant: WeftModel; readonly plain: WeftModel } {
  const weft = runtime();
  const models = {} as { variant: WeftModel; plain: WeftModel };
  beforeAll(async () => {
    models.variant = await weft.load(fixture(variant));
    models.plain = await weft.load(fixture('tiny'));
  });
  afterAll(() => weft.dispose());
  return models;
}

/** A runtime with the node backend plus `plugins`. */
export function runtime(plugins: readonly WeftPlugin[] = [], options: Omit<CreateWeftOptions, 'plugins'> = {}) {
  return createWeft({ plugins: [nodeBackend({ defaults: { intraOpNumThreads: 1 } }), ...plugins], ...options });
}


/** A Hugging Face style KV layout (`past_key_values.{i}.key`, `present.{i}.value`…), with past, position ids and mask. */
export function kvLayout(shape: { layers: number; kvHeads: number; headDim: number }, over: Partial<KvLayout> = {}): KvLayout {
  const names = (f: (i: number) => string) => Array.from({ length: shape.layers }, (_, i) => f(i));
  return {
    numLayers: shape.layers,
    numKvHeads: shape.kvHeads,
    headDim: shape.headDim,
    pastKeyNames: names((i) => `past_key_values.${i}.key`),
    pastValueNames: names((i) => `past_key_values.${i}.value`),
    presentKeyNames: names((i) => `present.${i}.key`),
    presentValueNames: names((i) => `present.${i}.value`),
    attentionNames: [],
    hasPast: true,
    hasPositionIds: true,
    hasAttentionMask: true,
    ...over,
  };
}

/** The same tokenizer without the byte-level fast path (windowed decoding). */
export const windowed = (t: Tokenizer): Tokenizer => ({
  encode: (x, o) => t.encode(x, o),
  decode: (ids, o) => t.decode(ids, o),
  applyChatTemplate: (m, o) => t.applyChatTemplate(m, o),
  tokenToId: (x) => t.tokenToId(x),
  chatTemplateAddsBos: t.chatTemplateAddsBos,
  vocabSize: t.vocabSize,
});

/** A session whose runs resolve or reject as `next` says: just enough for a `SessionPool`. */
export function runsAs(next: () => Promise<Record<string, BackendTensor>>): InferenceSession {
  return {
    inputNames: [],
    outputNames: [],
    inputMetadata: [],
    outputMetadata: [],
    createTensor: () => {
      throw new Error('not used');
    },
    run: () => next(),
    release: async () => {},
  };
}

/** A backend adapter named `name` whose sessions are `session`. */
export const poolAdapter = (name: string, session: InferenceSession): BackendAdapter => ({
  specificationVersion: 'v1',
  name,
  probe: async () => ({ available: true }),
  createSession: async () => session,
});
