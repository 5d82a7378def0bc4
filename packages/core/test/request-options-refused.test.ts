/**
 * Options a request gives a registered component, refused by its `create` with an
 * `InvalidOptionsError`, fail the request with an `InvalidOptionsError` of its own (the request is
 * at fault), naming the plugin and the request field; any other failure of `create`, and any
 * failure creating a default the request did not name, stays the plugin's `PluginError`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, PluginError, definePlugin, type GenerationRequest, type WeftModel } from '../src/index.js';
import { fixture, runtime } from './helpers.js';

const checked = definePlugin({
  name: 'checks-its-options',
  version: '1.0.0',
  apiVersion: '^0.1.0',
  setup(ctx) {
    ctx.register('logits-processor', {
      name: 'picky',
      create: (options?: { k?: unknown }) => {
        if (options?.k === undefined) throw new InvalidOptionsError('picky needs k');
        if (typeof options.k !== 'number') throw new InvalidOptionsError(`picky: k must be a number (got ${String(options.k)})`, { option: 'k' });
        if (options.k < 0) throw new TypeError('picky broke');
        return { name: 'picky', process: () => {} };
      },
    });
  },
});
const weft = runtime([checked]);
afterAll(() => weft.dispose());

async function failure(model: WeftModel, request: GenerationRequest): Promise<unknown> {
  return model.text({ prompt: 'Hi', maxTokens: 2, ...request }).then(() => undefined, (e: unknown) => e);
}

describe('options a request gives a component, refused', () => {
  it('are the request\'s InvalidOptionsError: the message names the plugin, `option` sits under the request field, the plugin\'s error is the cause', async () => {
    const model = await weft.load(fixture('tiny'));
    const named = await failure(model, { processors: [{ name: 'picky', options: { k: 'x' } }] });
    expect(InvalidOptionsError.isInstance(named)).toBe(true);
    expect(named).toMatchObject({ option: 'processors[0].k', message: 'picky: k must be a number (got x) (checks-its-options)' });
    expect((named as Error).cause).toMatchObject({ option: 'k' });
    // Named without the options it needs: the request's too, under the field.
    const missing = await failure(model, { processors: ['picky'] });
    expect(missing).toMatchObject({ option: 'processors[0]', message: 'picky needs k (checks-its-options)' });
    expect(InvalidOptionsError.isInstance(missing)).toBe(true);
    // The same entry named twice: `option` says which item of the list was refused.
    const second = await failure(model, { processors: [{ name: 'picky', options: { k: 1 } }, { name: 'picky', options: { k: 'y' } }] });
    expect(second).toMatchObject({ option: 'processors[1].k' });
    // Something in the list that names no entry at all.
    expect(await failure(model, { processors: [{ name: 'picky', options: { k: 1 } }, 7 as never] })).toMatchObject({ option: 'processors[1]' });
    // Core's own store: options it does not take.
    const fp32 = await failure(model, { kv: { name: 'fp32', options: { bits: 4 } } });
    expect(InvalidOptionsError.isInstance(fp32)).toBe(true);
    expect(fp32).toMatchObject({ option: 'kv', message: expect.stringMatching(/takes no options.* \(@weft\/core\)$/) });
    await model.dispose();
  });

  it('any other failure of create stays a PluginError naming the plugin and the stage', async () => {
    const model = await weft.load(fixture('tiny'));
    const broke = await failure(model, { processors: [{ name: 'picky', options: { k: -1 } }] });
    expect(PluginError.isInstance(broke)).toBe(true);
    expect(broke).toMatchObject({ plugin: 'checks-its-options', stage: 'logits-processor "picky" create' });
    await model.dispose();
  });

  it('a default the request did not name, refusing to be made, is the plugin\'s PluginError', async () => {
    const w = runtime([
      definePlugin({
        name: 'bad-default-router',
        version: '1.0.0',
        apiVersion: '^0.1.0',
        setup(ctx) {
          ctx.register('attention-router', {
            name: 'needs-config',
            capabilities: ['default'],
            create: () => {
              throw new InvalidOptionsError('needs-config was registered without its budget');
            },
          });
        },
      }),
    ]);
    const model = await w.load(fixture('tiny'));
    const error = await failure(model, {});
    expect(PluginError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ plugin: 'bad-default-router' });
    await w.dispose();
  });
});
