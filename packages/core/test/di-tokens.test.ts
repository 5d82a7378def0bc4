import { describe, expect, it } from 'vitest';
import { NodeBackendAdapter } from '@weft/backend-node';
import {
  ADAPTER_REGISTRY,
  AdapterResolutionError,
  ANALYZERS,
  API_VERSION,
  ATTENTION_ROUTERS,
  BACKENDS,
  BUILT_IN_KINDS,
  createWeft,
  definePlugin,
  extensionPointToken,
  FullPrecisionKvStore,
  GROUNDERS,
  InvalidOptionsError,
  KV_CACHE_STORES,
  LOGITS_PROCESSORS,
  MODEL_TRANSFORMS,
  PluginError,
  SAMPLERS,
  STRATEGY_SELECTORS,
  TOKENIZERS,
  VISION_ENCODERS,
  VISION_FUSIONS,
  WEFT_API_VERSION,
  WEFT_SERVICES,
  type Analyzer,
} from '../src/index.js';
import { runtime } from './helpers.js';

const TOKENS = {
  backend: BACKENDS,
  tokenizer: TOKENIZERS,
  'kv-cache': KV_CACHE_STORES,
  'attention-router': ATTENTION_ROUTERS,
  'logits-processor': LOGITS_PROCESSORS,
  sampler: SAMPLERS,
  analyzer: ANALYZERS,
  'strategy-selector': STRATEGY_SELECTORS,
  'model-transform': MODEL_TRANSFORMS,
  'vision-encoder': VISION_ENCODERS,
  'vision-fusion': VISION_FUSIONS,
  grounder: GROUNDERS,
} as const;

const analyzerPlugin = (name: string, entry: string, create: () => Analyzer | null = () => ({ name: entry, observe: () => 0 })) =>
  definePlugin({ name, version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.register('analyzer', { name: entry, create: create as () => Analyzer }) });

describe('DI tokens', () => {
  it('binds one extension point per core kind, under the token extensionPointToken(kind) returns', () => {
    const weft = createWeft();
    expect(Object.keys(TOKENS).sort()).toEqual([...BUILT_IN_KINDS].sort());
    for (const [kind, token] of Object.entries(TOKENS)) {
      expect(extensionPointToken(kind as keyof typeof TOKENS)).toBe(token);
      expect(weft.get(token).kind).toBe(kind);
      expect(weft.get(token)).toBe(weft.get(token));
    }
    expect(weft.get(ADAPTER_REGISTRY)).toBe(weft.registry);
    expect(weft.get(API_VERSION)).toBe(WEFT_API_VERSION);
    expect(weft.get(WEFT_SERVICES).get(KV_CACHE_STORES)).toBe(weft.get(KV_CACHE_STORES));
  });

  it("keeps each runtime's container separate: different views, and one runtime's plugins are invisible to the other", async () => {
    const a = createWeft({ plugins: [analyzerPlugin('a-plugin', 'entropy')] });
    const b = createWeft();
    await Promise.all([a.ready(), b.ready()]);
    expect(a.get(ANALYZERS)).not.toBe(b.get(ANALYZERS));
    expect(a.get(ANALYZERS).list().map((e) => e.name)).toEqual(['entropy']);
    expect(b.get(ANALYZERS).list()).toEqual([]);
    expect(() => b.get(ANALYZERS).resolve({ name: 'entropy' })).toThrow(AdapterResolutionError);
    // Views are live: a plugin installed later shows up in the view already handed out.
    const view = b.get(ANALYZERS);
    await b.use(analyzerPlugin('b-plugin', 'surprise'));
    expect(view.list().map((e) => [e.name, e.owner])).toEqual([['surprise', 'b-plugin']]);
    expect(a.get(ANALYZERS).list().map((e) => e.name)).toEqual(['entropy']);
  });

  it('creates a new instance of the best or named entry per call', async () => {
    const weft = runtime();
    await weft.ready();
    const stores = weft.get(KV_CACHE_STORES);
    const first = stores.create();
    expect(first).toBeInstanceOf(FullPrecisionKvStore);
    expect(stores.create('fp32')).not.toBe(first);
    expect(weft.get(BACKENDS).create('node')).toBeInstanceOf(NodeBackendAdapter);
    expect(weft.get(BACKENDS).resolve({ require: ['cpu'] }).name).toBe('node');
    expect(weft.get(TOKENIZERS).list().map((e) => [e.name, e.owner])).toEqual([['huggingface', '@weft/core']]);
    expect(() => stores.create('int3')).toThrow(/No kv-cache adapter matches "int3": registered: fp32 \(different name\)/);
  });

  it('attributes a failing create() to the plugin that registered the entry', async () => {
    const weft = createWeft({
      plugins: [
        analyzerPlugin('throws', 'boom', () => {
          throw new Error('no memory');
        }),
        analyzerPlugin('empty', 'nothing', () => null),
      ],
    });
    await weft.ready();
    const analyzers = weft.get(ANALYZERS);
    expect(() => analyzers.create('boom')).toThrow(new PluginError('throws', 'analyzer "boom" create', 'no memory'));
    expect(() => analyzers.create('nothing')).toThrow(/Plugin "empty" failed in analyzer "nothing" create: create\(\) returned null/);
  });

  it('binds a kind added by declaration merging on first use of its token, and refuses tokens it does not bind', async () => {
    const weft = createWeft({
      plugins: [
        definePlugin({
          name: 'widgets',
          version: '1.0.0',
          apiVersion: '^0.1.0',
          setup(ctx) {
            ctx.declareKind('widget');
            ctx.register('widget' as never, { name: 'gear', create: () => ({ teeth: 12 }) } as never);
          },
        }),
      ],
    });
    await weft.ready();
    const widgets = weft.get(extensionPointToken('widget' as never));
    expect(widgets.list().map((e) => e.name)).toEqual(['gear']);
    expect(widgets.create()).toEqual({ teeth: 12 });
    // The registry lists the declared kind after core's own.
    expect(weft.registry.kinds?.()).toEqual([...BUILT_IN_KINDS, 'widget']);
    expect(() => weft.get(Symbol('mine'))).toThrow(InvalidOptionsError);
    expect(() => weft.get('nothing-here')).toThrow(/This runtime binds nothing to "nothing-here"; resolve a token @weft\/core exports/);
    expect(createWeft().get(extensionPointToken('backend')).list()).toEqual([]);
  });
});

describe('ctx.get in a plugin setup', () => {
  it('resolves the runtime’s extension points, seeing what earlier plugins registered', async () => {
    const seen: { stores?: string[]; backend?: string } = {};
    const wrapper = definePlugin({
      name: 'sees-services',
      version: '1.0.0',
      apiVersion: '^0.1.0',
      setup(ctx) {
        seen.stores = ctx.get(KV_CACHE_STORES).list().map((e) => e.name);
        seen.backend = ctx.get(BACKENDS).resolve().name;
      },
    });
    const weft = runtime([wrapper]);
    await weft.ready();
    expect(seen).toEqual({ stores: ['fp32'], backend: 'node' });
    // Another runtime's plugin sees its own registry only.
    const other = createWeft({ plugins: [definePlugin({ name: 'sees-services', version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => void (seen.backend = ctx.get(BACKENDS).list().map((e) => e.name).join() || 'none') })] });
    await other.ready();
    expect(seen.backend).toBe('none');
    await Promise.all([weft.dispose(), other.dispose()]);
  });
});
