import type { ServiceIdentifier } from 'inversify';

/**
 * A DI token of a Weft runtime's container: inversify's `ServiceIdentifier`, named here so that
 * code using tokens, and the declaration files it emits (`export const MINE =
 * extensionPointToken('my-kind')`), need only `@weft/core`, not a direct dependency on inversify.
 */
export type ServiceToken<T = unknown> = ServiceIdentifier<T>;
