import { BackendError, definePlugin, type BackendAdapter, type ModelSource, type WeftPlugin } from '../src/index.js';

/**
 * A plugin registering the backend `recorder`: it takes external data as bytes (as the web backend
 * does), pushes each source it is given onto `seen`, and fails every session.
 */
export function recorderPlugin(seen: ModelSource[], priority = 10): WeftPlugin {
  const recorder: BackendAdapter = {
    specificationVersion: 'v1',
    name: 'recorder',
    probe: async () => ({ available: true }),
    async createSession(source) {
      seen.push(source);
      throw new BackendError('this test backend records what it gets', { backend: 'recorder' });
    },
  };
  return definePlugin({ name: 'recorder', version: '1.0.0', apiVersion: '^0.1.0', setup: (ctx) => ctx.register('backend', { name: 'recorder', priority, create: () => recorder }) });
}
