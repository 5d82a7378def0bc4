import { describe, expect, it } from 'vitest';
import { nodeBackend } from '@weft/backend-node';
import { webBackend } from '@weft/backend-web';
import { NodeBackendAdapter } from '@weft/backend-node';
import { BackendError, createWeft, definePlugin, InvalidOptionsError } from '../src/index.js';
import { collect, fixture, wrappedNodeBackend } from './helpers.js';

const tiny = fixture('tiny');

/** onnxruntime-node as `flaky` (above node and web), whose runs throw "device lost" while `broken` is set. */
function flaky(): { readonly plugin: ReturnType<typeof wrappedNodeBackend>; readonly breakIt: () => void } {
  let broken = false;
  return {
    plugin: wrappedNodeBackend({
      name: 'flaky',
      priority: 1000,
      beforeRun: () => {
        if (broken) throw new Error('device lost');
      },
    }),
    breakIt: () => void (broken = true),
  };
}

describe('failover leaves out, at load, a fallback that refuses the session options every fallback gets', () => {
  it('leaves out the web backend for executionProviders: ["cpu"] and says why in rejectedBackends', async () => {
    const { plugin, breakIt } = flaky();
    const weft = createWeft({ plugins: [plugin, webBackend()] });
    try {
      const model = await weft.load(tiny, { failover: true, session: { executionProviders: ['cpu'] } });
      expect(model.backend).toBe('flaky');
      // Before: [{ name: 'web', reason: 'lower priority' }], and web stayed a fallback that refused the options when needed.
      expect(model.rejectedBackends).toEqual([
        { name: 'web', reason: expect.stringMatching(/^lower priority; left out of failover: refuses the load's session options \(executionProviders\[0\]: "cpu" is not a provider of the web backend .*\)$/) },
      ]);
      breakIt();
      const error = await collect(model.generate({ prompt: 'hello', maxTokens: 3, temperature: 0 })).catch((e: unknown) => e);
      expect(BackendError.isInstance(error)).toBe(true);
      // No fallback was left: the web backend was not tried (before: "web: executionProviders[0]: "cpu" is not a provider …").
      expect((error as Error).message).toMatch(/^No backend left to continue on \(flaky: failed during the run[^;]*\)\.$/);
    } finally {
      await weft.dispose();
    }
  });

  it('fails over to a fallback that takes the options (node), not to one that refuses them (web)', async () => {
    const { plugin, breakIt } = flaky();
    const weft = createWeft({ plugins: [plugin, webBackend({ priority: 500 }), nodeBackend({ defaults: { intraOpNumThreads: 1 } })] });
    try {
      const model = await weft.load(tiny, { failover: true, session: { executionProviders: ['cpu'] } });
      expect(model.rejectedBackends.map((r) => r.name)).toEqual(['web', 'node']);
      expect(model.rejectedBackends[0]!.reason).toMatch(/left out of failover/);
      expect(model.rejectedBackends[1]!.reason).toBe('lower priority');
      breakIt();
      // Before: the stream moved to web (the higher fallback), whose session refused ['cpu'], then on to node.
      const events = await collect(model.generate({ prompt: 'hello', maxTokens: 3, temperature: 0 }));
      const failovers = events.filter((e) => e.type === 'failover');
      expect(failovers).toEqual([expect.objectContaining({ from: 'flaky', to: 'node' })]);
      expect(events.at(-1)?.type).toBe('done');
    } finally {
      await weft.dispose();
    }
  });

  it('asks a fallback that has validateSessionOptions (node) rather than its probe', async () => {
    // The web backend loads (on wasm); node's build has no "wasm" provider, which only node itself knows.
    const weft = createWeft({ plugins: [webBackend({ numThreads: 1, priority: 200 }), nodeBackend()] });
    try {
      const model = await weft.load(tiny, { failover: true, session: { executionProviders: ['wasm'] } });
      expect(model.backend).toBe('web');
      expect(model.rejectedBackends).toEqual([
        { name: 'node', reason: expect.stringMatching(/^lower priority; left out of failover: refuses the load's session options \(Execution provider\(s\) wasm are not in this onnxruntime-node build/) },
      ]);
    } finally {
      await weft.dispose();
    }
  });

  it('compares the named providers with the probe\'s for a fallback without validateSessionOptions', async () => {
    // `flaky` has no validateSessionOptions; its probe (onnxruntime-node's) lists cpu only.
    const { plugin } = flaky();
    const weft = createWeft({ plugins: [webBackend({ numThreads: 1, priority: 2000 }), plugin] });
    try {
      const model = await weft.load(tiny, { failover: true, session: { executionProviders: ['wasm'] } });
      expect(model.backend).toBe('web');
      expect(model.rejectedBackends).toEqual([
        { name: 'flaky', reason: expect.stringMatching(/^lower priority; left out of failover: refuses the load's session options \(executionProviders "wasm": it offers cpu(, \w+)* here\)$/) },
      ]);
    } finally {
      await weft.dispose();
    }
  });

  it('keeps a fallback whose validateSessionOptions cannot be read or does not answer (it says nothing about the options)', async () => {
    const odd = (name: string, validate: PropertyDescriptor) =>
      definePlugin({
        name: `${name}-backend`,
        version: '1.0.0',
        apiVersion: '^0.1.0',
        setup(ctx) {
          ctx.register('backend', {
            name,
            priority: 10,
            create: () => {
              const adapter = new NodeBackendAdapter({ intraOpNumThreads: 1 });
              Object.defineProperty(adapter, 'name', { value: name });
              Object.defineProperty(adapter, 'validateSessionOptions', validate);
              return adapter;
            },
          });
        },
      });
    const weft = createWeft({
      plugins: [
        nodeBackend({ defaults: { intraOpNumThreads: 1 } }),
        odd('hangs', { value: () => new Promise(() => undefined) }),
        odd('unreadable', { get: () => { throw new Error('no'); } }),
        odd('refuses', { value: () => { throw undefined; } }),
      ],
    });
    try {
      const model = await weft.load(tiny, { failover: true, session: { intraOpNumThreads: 1 }, probeTimeoutMs: 300 });
      expect(model.backend).toBe('node');
      const reasons = Object.fromEntries(model.rejectedBackends.map((r) => [r.name, r.reason]));
      // Before: "refuses the load's session options (validateSessionOptions() did not answer within 300 ms)" and "(its validateSessionOptions could not be read: …)".
      expect(reasons).toEqual({ hangs: 'lower priority', unreadable: 'lower priority', refuses: "lower priority; left out of failover: refuses the load's session options (undefined)" });
      // Named, the unanswering one still loads (no InvalidOptionsError with advice about providers).
      await expect(weft.load(tiny, { failover: { backends: ['hangs'] }, session: { intraOpNumThreads: 1 }, probeTimeoutMs: 300 })).resolves.toMatchObject({ backend: 'node' });
    } finally {
      await weft.dispose();
    }
  });

  it('refuses the load when failover.backends names a fallback that refuses the options', async () => {
    const { plugin } = flaky();
    const weft = createWeft({ plugins: [plugin, webBackend()] });
    try {
      const error = await weft.load(tiny, { failover: { backends: ['web'] }, session: { executionProviders: ['cpu'] } }).catch((e: unknown) => e);
      expect(InvalidOptionsError.isInstance(error)).toBe(true);
      expect((error as InvalidOptionsError).option).toBe('failover.backends');
      expect((error as Error).message).toMatch(/^Failover backend "web" refuses this load's session options \(executionProviders\[0\]: "cpu" is not a provider of the web backend [^)]*\)\): leave it out of failover\.backends/);
      // Options every named fallback takes still load.
      const model = await weft.load(tiny, { failover: { backends: ['web'] }, session: { intraOpNumThreads: 1 } });
      expect(model.rejectedBackends).toEqual([{ name: 'web', reason: 'lower priority' }]);
    } finally {
      await weft.dispose();
    }
  });
});
