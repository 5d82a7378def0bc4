import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChatArgs } from '../src/args/chat-args.js';
import { chat, stoppedThenAnswered, type ChatDone } from './chat-helpers.js';

type Done = ChatDone;

const dones = (result: { done(): Record<string, unknown>[] }) => result.done() as unknown as Done[];

/** Greedy, short replies: two sessions on the same turns give the same tokens. */
const GREEDY = ['--json', '--temperature', '0', '--max-tokens', '16'];
const TURNS = 'Tell me about a cat.\nWhat was its name?\nAnd then what happened?\n';

/** A plugin whose attention router is the runtime's default (it keeps the whole cache): core refuses a prompt cache with it. */
const DEFAULT_ROUTER_PLUGIN = `
export default {
  name: 'weft-plugin-default-router', version: '1.0.0', apiVersion: '^0.1.0',
  setup(ctx) {
    ctx.register('attention-router', {
      name: 'keep-all',
      capabilities: ['default'],
      create: () => ({ specificationVersion: 'v1', name: 'keep-all', select: () => undefined }),
    });
  },
};
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-chat-cache-'));
  await writeFile(join(dir, 'default-router.mjs'), DEFAULT_ROUTER_PLUGIN);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('weft chat prompt cache', () => {
  it('feeds each later turn from the cache, with the replies of a session without it (--no-prompt-cache)', async () => {
    const cached = await chat(GREEDY, { stdin: TURNS });
    const full = await chat([...GREEDY, '--no-prompt-cache'], { stdin: TURNS });
    for (const result of [cached, full]) {
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
    }
    const warm = dones(cached);
    const cold = dones(full);
    expect(warm.map((d) => d.turn)).toEqual([1, 2, 3]);
    expect(warm[0]!.cachedTokens).toBe(0);
    for (const d of warm.slice(1)) {
      expect(d.cachedTokens).toBeGreaterThan(0);
      expect(d.cachedTokens).toBeLessThan(d.promptTokens);
    }
    // Turn 2 reuses all of turn 1 (its prompt and reply, less the last token, never fed) when the
    // reply re-encodes as it was generated; at least the first prompt.
    expect(warm[1]!.cachedTokens).toBeGreaterThanOrEqual(warm[0]!.promptTokens);
    // Without the cache: every turn prefills in full, and the same conversation comes out.
    expect(cold.map((d) => d.cachedTokens)).toEqual([0, 0, 0]);
    expect(warm.map((d) => d.ids)).toEqual(cold.map((d) => d.ids));
    expect(warm.map((d) => d.promptTokens)).toEqual(cold.map((d) => d.promptTokens));
  });

  it('/reset empties the cache: the next turn takes nothing from it and answers as a first turn', async () => {
    const result = await chat(GREEDY, { stdin: 'Tell me about a cat.\nWhat was its name?\n/reset\nTell me about a cat.\n' });
    expect(result.code).toBe(0);
    const [first, second, third] = dones(result);
    expect(second!.cachedTokens).toBeGreaterThan(0);
    // Only cut back, the cache would still hold the BOS and the template's opening tokens.
    expect(third!.cachedTokens).toBe(0);
    expect(third!.ids).toEqual(first!.ids);
  });

  it('shows the cached prompt tokens at the end of the stats line (text mode), not with --no-prompt-cache', async () => {
    const args = ['--temperature', '0', '--max-tokens', '6'];
    const cached = await chat(args, { stdin: 'Hi\nTell me a story.\n' });
    expect(cached.code).toBe(0);
    const lines = cached.stderr.split('\n');
    expect(lines[0]).toMatch(/^\[6 tokens, [\d.]+ tokens\/s, ttft [\d.]+ ms, [\d.]+ ms\/token, finish length\]$/);
    expect(lines[1]).toMatch(/^\[6 tokens, [\d.]+ tokens\/s, ttft [\d.]+ ms, [\d.]+ ms\/token, finish length, [1-9]\d* prompt tokens cached\]$/);
    expect(lines.slice(2)).toEqual(['']);
    const full = await chat([...args, '--no-prompt-cache'], { stdin: 'Hi\nTell me a story.\n' });
    expect(full.stdout).toBe(cached.stdout);
    expect(full.stderr).toMatch(/^\[6 tokens, .*finish length\]\n\[6 tokens, .*finish length\]\n$/);
  });

  it('is routed with a --router that resumes a cache (full), and off with a note with one that cannot (window with positions=cache)', async () => {
    const stdin = 'Tell me about a cat.\nWhat was its name?\n';
    const full = await chat([...GREEDY, '--router', 'full'], { stdin });
    expect(full.code).toBe(0);
    expect(full.stderr).toBe('');
    const [first, second] = dones(full);
    expect(first!.cachedTokens).toBe(0);
    expect(second!.cachedTokens).toBeGreaterThan(0);
    const off = await chat([...GREEDY, '--router', 'window:positions=cache'], { stdin });
    expect(off.code).toBe(0);
    expect(off.stderr).toMatch(/^weft: note: the prompt cache is off: promptCache cannot be combined with the attention router "window": it counts positions within the cache[^\n]*\n$/);
    expect(dones(off).map((d) => d.cachedTokens)).toEqual([0, 0]);
    expect(parseChatArgs(['--router', 'full']).promptCache).toBe(true);
    expect(parseChatArgs([]).promptCache).toBe(true);
    expect(parseChatArgs(['--no-prompt-cache']).promptCache).toBe(false);
  });

  it('goes on without the cache, after one note, when core refuses it (a plugin default router)', async () => {
    const plugin = join(dir, 'default-router.mjs');
    const result = await chat([...GREEDY, '--plugin', plugin], { stdin: TURNS });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^weft: note: the prompt cache is off: promptCache cannot be combined with the attention router "keep-all": it keeps state between steps[^\n]*\n$/);
    const replies = dones(result);
    expect(replies.map((d) => [d.turn, d.cachedTokens])).toEqual([
      [1, 0],
      [2, 0],
      [3, 0],
    ]);
    // Every turn was answered, the refused one included: the same conversation as without the cache.
    const full = await chat([...GREEDY, '--plugin', plugin, '--no-prompt-cache'], { stdin: TURNS });
    expect(full.stderr).toBe('');
    expect(replies.map((d) => d.ids)).toEqual(dones(full).map((d) => d.ids));
  });

  it('after a reply stopped with Ctrl-C, the next turn answers as without the cache', { timeout: 60_000 }, async () => {
    /** A terminal session: a reply stopped at its first token, then another message answered in full. */
    const session = async (extra: readonly string[]): Promise<Done[]> => {
      const result = await stoppedThenAnswered(['--json', '--temperature', '0', '--max-tokens', '600', '--min-tokens', '600', ...extra], 'Tell me a story.', 'Tell me about a cat.');
      expect(result.steps).toBe(4);
      expect(result.code).toBe(0);
      return dones(result);
    };
    const [stopped, next] = await session([]);
    const [, reference] = await session(['--no-prompt-cache']);
    expect(stopped).toMatchObject({ turn: 1, finishReason: 'abort', cachedTokens: 0 });
    // The cache held the stopped exchange; the next prompt shares only its start, and is cut back to it.
    expect(next!.cachedTokens).toBeGreaterThan(0);
    expect(next!.cachedTokens).toBeLessThan(next!.promptTokens);
    expect(next!.promptTokens).toBeLessThan(stopped!.promptTokens + stopped!.completionTokens);
    expect(reference).toMatchObject({ turn: 2, cachedTokens: 0, promptTokens: next!.promptTokens });
    expect(next!.ids).toEqual(reference!.ids);
  });
});
