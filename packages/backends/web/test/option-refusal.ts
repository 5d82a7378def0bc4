import { expect } from 'vitest';
import { InvalidOptionsError } from '@weft/core';
import { WebBackendAdapter, webBackend, type WebBackendOptions } from '../src/index.js';

/** What `webBackend(options)` throws (and that the adapter throws the same). */
export function refusal(options: unknown): InvalidOptionsError {
  let thrown: unknown;
  try {
    webBackend(options as WebBackendOptions);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InvalidOptionsError);
  expect(() => new WebBackendAdapter(options as WebBackendOptions)).toThrow((thrown as Error).message);
  return thrown as InvalidOptionsError;
}
