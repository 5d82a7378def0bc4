import { describe, expect, it } from 'vitest';
import { definePlugin, type OwnedHooks } from '../src/index.js';
import { stageHooks } from '../src/generation/stage-hooks.js';
import { collect, fixture, runtime } from './helpers.js';

describe('stage hooks', () => {
  it('groups hook sets by stage once, and again after the list grows', () => {
    const noop = () => {};
    const hooks: OwnedHooks[] = [
      { owner: 'a', hooks: { beforeForward: noop, afterToken: noop } },
      { owner: 'b', hooks: { processLogits: noop } },
    ];
    const first = stageHooks(hooks);
    expect(first.beforeForward.map((h) => h.owner)).toEqual(['a']);
    expect(first.processLogits.map((h) => h.owner)).toEqual(['b']);
    expect(first.afterForward).toEqual([]);
    expect(stageHooks(hooks)).toBe(first);
    hooks.push({ owner: 'c', hooks: { afterToken: noop } });
    const grown = stageHooks(hooks);
    expect(grown.afterToken.map((h) => h.owner)).toEqual(['a', 'c']);
    expect(first.afterToken.map((h) => h.owner)).toEqual(['a']); // a grouping already taken stays as it was
  });

  it('applies hooks of a plugin installed after the runtime already generated', async () => {
    const weft = runtime();
    const model = await weft.load(fixture('tiny'));
    await collect(model.generate({ prompt: 'x', maxTokens: 2 }));
    const seen: number[] = [];
    await weft.use(definePlugin({ name: 'late', version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.addHooks({ afterToken: ({ id }) => void seen.push(id) }) }));
    await collect(model.generate({ prompt: 'x', maxTokens: 3 }));
    expect(seen).toHaveLength(3);
    await weft.dispose();
  });
});
