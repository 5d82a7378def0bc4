import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Workspace packages resolve to their TypeScript sources in tests (the `source` export condition).
    conditions: ['source'],
    // Core's tests run on the node backend, which depends on core: an alias rather than a
    // devDependency, so the workspace has no dependency cycle (pnpm warns about one on every install).
    alias: { '@weft/backend-node': fileURLToPath(new URL('./packages/backends/node/src/index.ts', import.meta.url)) },
  },
  // Test files run in vitest's server (SSR) environment, whose resolver needs the condition too:
  // without it, packages imported from other packages' tests resolved to their built dist/.
  ssr: {
    resolve: { conditions: ['source'], externalConditions: ['source'] },
  },
  test: {
    include: ['packages/**/*.test.ts', 'models/**/*.test.ts', 'examples/**/*.test.ts', 'docs/**/*.test.ts', 'scripts/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
