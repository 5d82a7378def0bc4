import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, type ModelSource } from '@weft/core';
import { WebBackendAdapter, WebSession } from '../src/index.js';
import { tinyModel } from './helpers.js';

// Its own file: onnxruntime-web's runtime is process-wide, and here the first sessions of the
// process are asked for on two builds at once (vitest runs each file in a fresh process here).

const tinyBytes = (): ModelSource => ({ kind: 'bytes', bytes: new Uint8Array(readFileSync(`${tinyModel}/onnx/model.onnx`)) });
const ortOf = async (m: Promise<object>): Promise<typeof import('onnxruntime-web')> => {
  const module = (await m) as { default?: unknown };
  return (module.default ?? module) as typeof import('onnxruntime-web');
};

describe('first sessions on two builds at once', () => {
  it('one build starts; the other backend is refused with InvalidOptionsError (runtime) and its build never starts', async () => {
    // The default build (Node.js's) and the jsep build (`onnxruntime-web/webgpu`, on wasm here).
    const byDefault = new WebBackendAdapter({ numThreads: 1 });
    const jsep = new WebBackendAdapter({ runtime: () => import('onnxruntime-web/webgpu'), numThreads: 1 });
    const results = await Promise.allSettled([byDefault.createSession(tinyBytes()), jsep.createSession(tinyBytes())]);
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    const winner = won[0] === 0 ? byDefault : jsep;
    const loser = won[0] === 0 ? jsep : byDefault;
    const refused = results[1 - won[0]!] as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(InvalidOptionsError);
    expect(refused.reason).toMatchObject({ option: 'runtime', message: expect.stringMatching(/^onnxruntime-web already runs in this process from another build/) });
    // Only the winner's build started, and it goes on; the loser stays refused.
    const loserOrt = await ortOf(won[0] === 0 ? import('onnxruntime-web/webgpu') : import('onnxruntime-web'));
    expect(loserOrt.env.wasm.numThreads).toBeUndefined();
    expect(await winner.probe()).toMatchObject({ available: true });
    expect(await loser.probe()).toMatchObject({ available: false, reason: expect.stringMatching(/another build/) });
    const again = await winner.createSession(tinyBytes());
    expect(again).toBeInstanceOf(WebSession);
    await Promise.all([again.release(), (results[won[0]!] as PromiseFulfilledResult<WebSession>).value.release()]);
  });
});
