/**
 * The page `test/web-backend.test.ts` drives: the built `@weft/core` and `@weft/backend-web`,
 * bundled by Vite as an application would, put on `window.weft` (with two helpers) for
 * `page.evaluate` to use.
 */
import * as core from '@weft/core';
import * as web from '@weft/backend-web';

/** How many sessions a tracked backend opened, and how many of them were released. */
export interface SessionCounts {
  created: number;
  released: number;
}

/** The `web` backend, counting its sessions: a load that fails, or `dispose()`, must release every one. */
function trackedWebBackend(options: web.WebBackendOptions = {}): { readonly plugin: core.WeftPlugin; readonly sessions: SessionCounts } {
  const sessions: SessionCounts = { created: 0, released: 0 };
  class TrackedAdapter extends web.WebBackendAdapter {
    override async createSession(source: core.ModelSource, sessionOptions?: core.SessionOptions): Promise<core.InferenceSession> {
      const session = await super.createSession(source, sessionOptions);
      sessions.created++;
      const release = session.release.bind(session);
      let released = false;
      session.release = () => {
        if (!released) sessions.released++;
        released = true;
        return release();
      };
      return session;
    }
  }
  const plugin = core.definePlugin({
    name: 'tracked-web-backend',
    version: '0.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('backend', { name: 'web', priority: 50, capabilities: [...web.WEB_PROVIDERS], create: () => new TrackedAdapter(options) });
    },
  });
  return { plugin, sessions };
}

/** Every event of one run, in order; rejects with the run's error. */
function collect(events: ReturnType<core.WeftModel['generate']>): Promise<core.GenerationEvent[]> {
  const all: core.GenerationEvent[] = [];
  return new Promise((resolve, reject) => {
    events.subscribe({ next: (e) => all.push(e), error: reject, complete: () => resolve(all) });
  });
}

const harness = { core, web, trackedWebBackend, collect };

declare global {
  interface Window {
    weft: typeof harness;
  }
}

window.weft = harness;
document.body.dataset['state'] = 'ready';
