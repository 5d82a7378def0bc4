import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelLoadError, parseModelConfig } from '../src/index.js';
import { fixture } from './helpers.js';

/**
 * config.json numbers are described as written: a 400-digit num_hidden_layers parses as Infinity,
 * which the error used to show as "got null" (JSON.stringify's spelling of Infinity).
 */
describe('config.json values in load errors', () => {
  const base = JSON.parse(readFileSync(join(fixture('tiny'), 'config.json'), 'utf8')) as Record<string, unknown>;
  const failure = (raw: unknown): unknown => {
    try {
      parseModelConfig(raw, 'm/config.json');
    } catch (error) {
      return error;
    }
    return undefined;
  };

  it('says Infinity (too large to hold) for a number too long for a double', () => {
    const raw = JSON.parse(JSON.stringify(base).replace(/"num_hidden_layers":\d+/, `"num_hidden_layers":${'9'.repeat(400)}`)) as unknown;
    const error = failure(raw);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toBe('m/config.json: "num_hidden_layers" must be a positive integer (got Infinity, a number too large to hold); fix it.');
  });

  it('quotes other values as written', () => {
    expect((failure({ ...base, num_hidden_layers: '4' }) as Error).message).toMatch(/"num_hidden_layers" must be a positive integer \(got "4"\); fix it\.$/);
    expect((failure({ ...base, num_hidden_layers: 2.5 }) as Error).message).toMatch(/\(got 2\.5\); fix it\.$/);
    expect((failure({ ...base, num_hidden_layers: [4] }) as Error).message).toMatch(/\(got an array\); fix it\.$/);
  });
});
