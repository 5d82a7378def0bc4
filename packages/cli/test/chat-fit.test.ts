import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { HfTokenizer, type ChatMessage } from '@weft/core';
import { describe, expect, it } from 'vitest';
import { chatTokens, Conversation, type TokenCount } from '../src/chat/conversation.js';
import { chat, fakeTerminal } from './chat-helpers.js';
import { storyModel } from './helpers.js';

const tokenizer = new HfTokenizer(
  JSON.parse(readFileSync(join(storyModel, 'tokenizer.json'), 'utf8')),
  JSON.parse(readFileSync(join(storyModel, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>,
);

/** `chatTokens` on the story tokenizer, counting its calls (each a render and an encode). */
function countingChatTokens(): { count: (messages: readonly ChatMessage[], stopAt: number) => TokenCount; calls: () => number } {
  let calls = 0;
  return { count: (messages, stopAt) => (calls++, chatTokens(tokenizer, messages, stopAt)), calls: () => calls };
}

/** A conversation of `n` short turns. */
function conversation(n: number): Conversation {
  const c = new Conversation('Be kind.');
  c.commit(
    Array.from({ length: n }, (_, i) => ({ user: `hi ${i}`, assistant: 'Tell me a story about a cat.' })),
    { user: 'hi', assistant: 'Tell me a story about a cat.' },
  );
  return c;
}

describe('Conversation.fitMessage', () => {
  it('finds how many turns to drop in a few counts, not one count per dropped turn', () => {
    const c = conversation(400);
    const whole = chatTokens(tokenizer, c.messages(c.turns, 'x'), Infinity).tokens;
    const budget = Math.floor(whole * 0.8);
    // A long message that leaves room for only a fraction of the history.
    const message = 'word '.repeat(Math.floor(budget / 6)); // "word " is 3 tokens: half the budget
    const { count, calls } = countingChatTokens();
    const fit = c.fitMessage(message, budget, count);
    expect(fit.fits).toBe(true);
    if (!fit.fits) return;
    expect(fit.dropped).toBeGreaterThan(200);
    // The whole conversation, the message alone, then a doubling and halving search: O(log n).
    expect(calls()).toBeLessThanOrEqual(2 + 2 * Math.ceil(Math.log2(401)));
    // The fewest turns dropped: it fits, and one turn more does not.
    expect(fit.tokens).toBeLessThanOrEqual(budget);
    expect(fit.tokens).toBe(chatTokens(tokenizer, fit.messages, Infinity).tokens);
    expect(fit.kept).toEqual(c.turns.slice(fit.dropped));
    expect(chatTokens(tokenizer, c.messages(c.turns.slice(fit.dropped - 1), message), Infinity).tokens).toBeGreaterThan(budget);
  });

  it('takes three counts when one turn goes, as it usually does', () => {
    const c = conversation(300);
    const whole = chatTokens(tokenizer, c.messages(c.turns, 'And then?'), Infinity).tokens;
    const { count, calls } = countingChatTokens();
    const fit = c.fitMessage('And then?', whole - 1, count);
    expect(fit).toMatchObject({ fits: true, dropped: 1 });
    expect(calls()).toBe(3);
  });
});

describe('chatTokens', () => {
  it('counts a message far past the bound as a lower bound, without rendering it', () => {
    const template = tokenizer.applyChatTemplate.bind(tokenizer);
    let rendered = 0;
    const spy = Object.assign(Object.create(tokenizer) as HfTokenizer, {
      applyChatTemplate: (...args: Parameters<HfTokenizer['applyChatTemplate']>) => (rendered++, template(...args)),
    });
    const count = chatTokens(spy, [{ role: 'user', content: 'word '.repeat(100_000) }], 1000);
    expect(count.atLeast).toBe(true);
    expect(count.tokens).toBeGreaterThanOrEqual(1000);
    expect(rendered).toBe(0);
    expect(chatTokens(tokenizer, [{ role: 'user', content: 'Hi' }], 1000).atLeast).toBe(false);
  });
});

describe('weft chat: messages and --system too long for the context', () => {
  it('says "at least" for a counted-in-chunks line, and a line past the template limits is "too long" too', { timeout: 60_000 }, async () => {
    // 2M characters: counted in chunks; 17M characters: over core's rendering limit of 16 Mi characters.
    const long = 'word '.repeat(400_000);
    const longest = 'ab'.repeat(8_500_000);
    const result = await chat(['--max-tokens', '5'], { stdin: `${long}\n${longest}\n` });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    for (const [i, line] of lines.entries()) {
      expect(line).toMatch(new RegExp(`^weft: turn ${i + 1}: this message takes at least \\d+ tokens, but the model's context of 1024 holds 1019 once 5 are kept for the reply; it was not sent \\(shorten it\\)$`));
    }
  });

  it('suggests lowering --max-tokens only for a message that would fit the context with less room kept', async () => {
    const message = Array.from({ length: 45 }, () => 'The little dog ran to the park and played with a red ball.').join(' ');
    const result = await chat(['--max-tokens', '500'], { stdin: `${message}\n` });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^weft: turn 1: this message takes \d+ tokens, but the model's context of 1024 holds 524 once 500 are kept for the reply; it was not sent \(shorten it, or lower --max-tokens\)\n$/);
  });

  it('refuses a --system message that leaves no room for a message at start, naming --system (exit code 2)', async () => {
    let read = false;
    const stdin = {
      [Symbol.asyncIterator]: () => {
        read = true;
        return [Buffer.from('a\nb\n')][Symbol.iterator]();
      },
    };
    const result = await chat(['--max-tokens', '5', '--system', 'word '.repeat(2000)], { stdin: stdin as never });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^weft: --system takes (at least )?\d+ tokens with the chat template, leaving no room for a message: the model's context of 1024 holds 1019 once 5 are kept for the reply \(shorten it\)\n$/);
    expect(read).toBe(false);
    // One that leaves room still runs.
    const fine = await chat(['--max-tokens', '2', '--system', 'word '.repeat(50)], { stdin: 'Hi\n' });
    expect(fine.code).toBe(0);
  });
});

describe('weft chat on a terminal, the prompt line', () => {
  it('draws nothing on stderr when it is not a terminal (2>log): no prompt, no escape sequences, no echo', { timeout: 60_000 }, async () => {
    const keys = fakeTerminal();
    keys.write('Hi\n');
    keys.end();
    const result = await chat(['--max-tokens', '3'], { terminal: keys, stderrTty: false });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^[^\n]*\n$/);
    expect(result.stderr).toMatch(/^\[3 tokens, [^\n]*\]\n$/);
  });

  it('ends the line typed at the prompt before "weft: interrupted" when a signal stops the session', { timeout: 60_000 }, async () => {
    const keys: PassThrough = fakeTerminal();
    const controller = new AbortController();
    let typed = false;
    const result = await chat(['--max-tokens', '3'], {
      terminal: keys,
      signal: controller.signal,
      onOutput: (_stdout, stderr) => {
        if (!typed && stderr.includes('> ')) {
          typed = true;
          keys.write('hel');
        } else if (typed && !controller.signal.aborted && stderr.endsWith('hel')) {
          // A signal arrives on its own, not in the middle of readline's drawing.
          setTimeout(() => controller.abort(), 50);
        }
      },
    });
    expect(controller.signal.aborted).toBe(true);
    expect(result.code).not.toBe(0);
    // readline may move the cursor (CSI … G) before the line ends; what shows is "> hel", then the error.
    expect(result.stderr.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')).toMatch(/> hel\nweft: interrupted\n$/);
  });
});
