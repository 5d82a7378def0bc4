import { checkKnownKeys, DEFAULT_CAPABILITY, InvalidOptionsError, definePlugin, isOptionsObject, quoteValue, readOwnOptions, type WeftPlugin } from '@weft/core';
import { AttentionImportanceAnalyzer } from './analyzers/attention-importance.js';
import { RouterDecisionsAnalyzer, ROUTER_DECISIONS } from './analyzers/router-decisions.js';
import {
  ROUTER_CAPABILITIES,
  ROUTER_DESCRIPTIONS,
  ROUTER_NAMES,
  createRouter,
  type HeavyHitterOptions,
  type RouterName,
  type RouterOptions,
  type SinkWindowOptions,
  type WindowOptions,
} from './routers/definitions.js';
import { VERSION } from './version.js';

/** Plugin name (one per runtime: `attentionRouters()` and the default-setters are the same plugin). */
export const PLUGIN_NAME = '@weft/plugin-attention';

/** A router and its options, made the runtime's default. */
export type DefaultRouter = { readonly [N in RouterName]: { readonly router: N; readonly options?: RouterOptions<N> } }[RouterName];

/** Options of {@link attentionRouters}. */
export interface AttentionRoutersOptions {
  /**
   * Marks one router as this runtime's default (capability `default`): requests that name no
   * router use it with these options. A request naming a router with its own options uses
   * those options as given (they replace these, they are not merged).
   */
  readonly default?: DefaultRouter;
}

/**
 * Registers every attention router (`full`, `window`, `sink-window`, `strided`,
 * `heavy-hitter`, `key-norm`, `hybrid`, `content-aware`) and the analyzers `router-decisions`
 * and `attention-importance`.
 *
 * @example
 * const weft = createWeft({ plugins: [nodeBackend(), attentionRouters()] });
 * model.generate({ prompt, router: { name: 'sink-window', options: { sinks: 4, window: 252 } } });
 */
export function attentionRouters(options: AttentionRoutersOptions = {}): WeftPlugin {
  if (!isOptionsObject(options)) {
    throw new InvalidOptionsError(`attentionRouters options must be an object such as { default: { router: 'window' } } (got ${quoteValue(options)}).`, { option: 'options' });
  }
  // Read once, own properties only: a getter or proxy trap that throws is an InvalidOptionsError,
  // and what is checked here is what setup uses.
  const given = readOwnOptions(options, '', { what: 'attentionRouters options', option: (key) => key ?? 'options' });
  // A misspelled option (`defualt`) would otherwise be ignored without a word.
  checkKnownKeys(given, ['default'], 'attentionRouters', '');
  const preset = readPreset(given['default']);
  // Validate the default now, so a bad option fails where the plugin is written.
  if (preset !== undefined) createRouter(preset.router as string, preset.options);
  return definePlugin({
    name: PLUGIN_NAME,
    version: VERSION,
    apiVersion: '^0.1.0',
    description: 'Attention routers: KV eviction under a token budget',
    setup(ctx) {
      for (const name of ROUTER_NAMES) {
        const isDefault = preset?.router === name;
        ctx.register('attention-router', {
          name,
          description: ROUTER_DESCRIPTIONS[name],
          capabilities: [...(ROUTER_CAPABILITIES[name] ?? []), ...(isDefault ? [DEFAULT_CAPABILITY] : [])],
          create: (routerOptions) => createRouter(name, routerOptions === undefined && isDefault ? preset.options : routerOptions),
        });
      }
      ctx.register('analyzer', {
        name: ROUTER_DECISIONS,
        description: "publishes this request's attention-router decisions as analysis events (routers from this plugin)",
        create: (analyzerOptions) => {
          noOptions(ROUTER_DECISIONS, analyzerOptions);
          return new RouterDecisionsAnalyzer();
        },
      });
      ctx.register('analyzer', {
        name: 'attention-importance',
        description: 'per-slot importance = attention received this step (for hybrid); needs attentions.{i} outputs',
        capabilities: ['attentions'],
        create: (analyzerOptions) => {
          noOptions('attention-importance', analyzerOptions);
          return new AttentionImportanceAnalyzer();
        },
      });
    },
  });
}

/** `attentionRouters`' `default`, copied (its `options` too) so setup uses what was checked. */
function readPreset(value: unknown): { readonly router: unknown; readonly options: unknown } | undefined {
  if (value === undefined) return undefined;
  if (!isOptionsObject(value)) {
    throw new InvalidOptionsError(`attentionRouters: default must be { router, options? } such as { router: 'window', options: { budget: 128 } } (got ${quoteValue(value)}).`, {
      option: 'default',
    });
  }
  const preset = readOwnOptions(value, 'default', { option: (key) => (key === undefined ? 'default' : `default.${key}`) });
  // A misspelled `options` (`opts`) would otherwise leave the router at its defaults without a word.
  checkKnownKeys(preset, ['router', 'options'], 'attentionRouters default', 'default');
  const options = preset['options'];
  return {
    router: preset['router'],
    options:
      isOptionsObject(options)
        ? readOwnOptions(options, 'default.options', { option: (key) => (key === undefined ? 'default.options' : `default.options.${key}`) })
        : options,
  };
}

function noOptions(name: string, options: Readonly<Record<string, unknown>> | undefined): void {
  if (options !== undefined && Object.keys(options).length > 0) {
    throw new InvalidOptionsError(`Analyzer "${name}" takes no options (got ${Object.keys(options).join(', ')}).`, { option: Object.keys(options)[0]! });
  }
}

/**
 * Every router, with StreamingLLM (`sink-window`) as the runtime default.
 * @example createWeft({ plugins: [nodeBackend(), kvQuant({ bits: 4 }), sinkWindow({ window: 256 })] })
 */
export function sinkWindow(options: SinkWindowOptions = {}): WeftPlugin {
  return attentionRouters({ default: { router: 'sink-window', options } });
}

/** Every router, with a sliding window (`window`) as the runtime default. */
export function slidingWindow(options: WindowOptions = {}): WeftPlugin {
  return attentionRouters({ default: { router: 'window', options } });
}

/** Every router, with H2O (`heavy-hitter`) as the runtime default (load a graph with attention outputs). */
export function heavyHitter(options: HeavyHitterOptions = {}): WeftPlugin {
  return attentionRouters({ default: { router: 'heavy-hitter', options } });
}
