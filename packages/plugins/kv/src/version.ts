/**
 * This package's version, for the plugin manifest. A constant rather than a read of package.json
 * so browser bundles need no `node:module`; `scripts/sync-versions.mjs` keeps it in step.
 */
export const VERSION = '0.1.0';
