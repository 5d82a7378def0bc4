/** This package's version, for the plugin manifest (`test/options.test.ts` checks it against package.json). */
export const VERSION = '0.1.0';
