import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWeft, ModelLoadError } from '../src/index.js';
import { storyModel, wrappedNodeBackend } from './helpers.js';

describe('a load that fails after its session opened, on a backend whose release fails too', () => {
  let dir: string;
  beforeAll(async () => {
    // models/story with a config.json that disagrees with its graph (4 layers in the graph).
    dir = await mkdtemp(join(tmpdir(), 'weft-release-failure-'));
    await cp(storyModel, dir, { recursive: true });
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 3 }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('rejects with the load error, not the release\'s, and still tries the release once', async () => {
    const releases: string[] = [];
    const weft = createWeft({
      plugins: [
        wrappedNodeBackend({
          name: 'bad-release',
          priority: 200,
          onRelease: () => void releases.push('release'),
          beforeRelease: () => {
            throw new Error('device gone while releasing');
          },
        }),
      ],
    });
    try {
      const error = await weft.load(dir).catch((e: unknown) => e);
      // Before: the release's plain Error replaced the ModelLoadError saying what is wrong.
      expect(ModelLoadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/past inputs for 4 layers but config\.json says num_hidden_layers = 3/);
      expect(releases).toEqual(['release']);
    } finally {
      await weft.dispose();
    }
  });
});
