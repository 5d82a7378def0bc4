/**
 * This package's version, for the plugin manifest. A constant rather than a read of package.json
 * so the browser build needs no JSON import or `node:module`; `test/options.test.ts` checks it
 * against package.json.
 */
export const VERSION = '0.1.0';
