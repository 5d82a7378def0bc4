import { definePlugin, type WeftPlugin } from '@weft/core';
import { NO_REPEAT_NGRAM, NoRepeatNgramProcessor, readNoRepeatNgramOptions, type NoRepeatNgramOptions } from './no-repeat-ngram.js';

export { DEFAULT_SIZE, NO_REPEAT_NGRAM, NoRepeatNgramProcessor, noRepeatNgramProcessor, readNoRepeatNgramOptions } from './no-repeat-ngram.js';
export type { NoRepeatNgramOptions, NoRepeatScope } from './no-repeat-ngram.js';

/** The plugin's name and version, as its package.json has them. */
export const PLUGIN_NAME = 'weft-plugin-no-repeat';
export const VERSION = '0.1.0';

/**
 * The plugin: registers the `no-repeat-ngram` logits processor. A request turns it on with
 * `processors: [{ name: 'no-repeat-ngram', options: { size: 3 } }]` (or `--processor
 * no-repeat-ngram:size=3` on the command line). `defaults` are the options a request that names
 * the processor without them gets (`{ size: 3, scope: 'all' }` unless given here); a request's own
 * options override them one by one. Bad defaults throw an `InvalidOptionsError` here; bad request
 * options fail that request.
 *
 * @example createWeft({ plugins: [nodeBackend(), noRepeatNgram()] })
 */
export function noRepeatNgram(defaults: NoRepeatNgramOptions = {}): WeftPlugin {
  const base = readNoRepeatNgramOptions(defaults);
  return definePlugin({
    name: PLUGIN_NAME,
    version: VERSION,
    apiVersion: '^0.1.0',
    description: 'no-repeat-ngram logits processor',
    setup(ctx) {
      ctx.register('logits-processor', {
        name: NO_REPEAT_NGRAM,
        description: `bans every token that would repeat an n-gram of the row's history (options: size, default ${base.size}; scope, "all" or "generated", default "${base.scope}")`,
        create: (options) => new NoRepeatNgramProcessor({ ...base, ...readOptions(options) }),
      });
    },
  });
}

/** A request's options, checked (so that `{ size: undefined }` keeps the default rather than failing). */
function readOptions(options: unknown): NoRepeatNgramOptions {
  if (options === undefined || options === null) return {};
  readNoRepeatNgramOptions(options);
  const { size, scope } = options as NoRepeatNgramOptions;
  return { ...(size === undefined ? {} : { size }), ...(scope === undefined ? {} : { scope }) };
}

/** `weft … --plugin weft-plugin-no-repeat[:size=2,scope=generated]` calls this with the options after the name. */
export default noRepeatNgram;
