import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chat, fakeTerminal, promptsDrawn as prompts, stoppedThenAnswered, type ChatDone } from './chat-helpers.js';
import { storyModel } from './helpers.js';

type Done = ChatDone;


describe('weft chat on a terminal (in-process, readline on a fake terminal)', () => {
  it('Ctrl-C during a reply stops that reply only: it is not kept, and the session goes on to Ctrl-D (exit 0)', { timeout: 60_000 }, async () => {
    const result = await stoppedThenAnswered(['--json', '--max-tokens', '600', '--min-tokens', '600'], 'Tell me a story.', 'Tell me a story.');
    expect(result.steps).toBe(4);
    expect(result.code).toBe(0);
    const [stopped, next] = result.done() as unknown as Done[];
    expect(stopped).toMatchObject({ turn: 1, finishReason: 'abort' });
    expect(stopped!.completionTokens).toBeLessThan(600);
    expect(result.stderr).toContain('weft: reply stopped (Ctrl-C): it and the message it answers are left out of the conversation\n');
    // Turn 2 is the same message on an empty history: the stopped exchange was not kept.
    expect(next).toMatchObject({ turn: 2, finishReason: 'length', completionTokens: 600, promptTokens: stopped!.promptTokens });
  });

  it('Ctrl-C at the prompt ends the session with exit code 130; /reset and /help answer on stderr', { timeout: 60_000 }, async () => {
    const keys = fakeTerminal();
    let step = 0;
    const result = await chat(['--max-tokens', '3'], {
      terminal: keys,
      onOutput: (_stdout, stderr) => {
        if (step === 0 && prompts(stderr) === 1) {
          step = 1;
          keys.write('Hi\r');
        } else if (step === 1 && prompts(stderr) === 2) {
          step = 2;
          keys.write('/help\r/reset\r');
        } else if (step === 2 && stderr.includes('cleared') && prompts(stderr) >= 3) {
          step = 3;
          keys.write('\x03');
        }
      },
    });
    expect(step).toBe(3);
    expect(result.code).toBe(130);
    // One reply, its line ended, then the stats on stderr.
    expect(result.stdout).toMatch(/^[^\n]*\n$/);
    expect(result.stderr).toMatch(/\[3 tokens, [\d.]+ tokens\/s, .*finish length\]\n/);
    expect(result.stderr).toContain('/reset   forget the conversation so far');
    expect(result.stderr).toContain('weft: the conversation is cleared\n');
    expect(result.stderr).toMatch(/\nweft: interrupted\n$/);
    // The pasted "/reset" shows once, as it was typed (and once in the help), not again after the next prompt.
    expect(result.stderr.split('/reset').length - 1).toBe(2);
  });
});

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const hasScript = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0;

describe.skipIf(!existsSync(bin) || !hasScript)('weft chat on a pseudo-terminal (the built bin.js under script)', () => {
  it('Ctrl-C stops the reply and the session goes on; Ctrl-C at the prompt exits 130', { timeout: 60_000 }, async () => {
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} chat --model ${JSON.stringify(storyModel)} --threads 1 --max-tokens 600 --min-tokens 600`;
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
    let output = '';
    let step = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (step === 0 && output.includes('> ')) {
        step = 1;
        child.stdin.write('Tell me a story\r');
      } else if (step === 1 && (output.split('Tell me a story\r')[1] ?? '').length > 40) {
        step = 2;
        child.stdin.write('\x03');
      } else if (step === 2 && /left out of the conversation[^]*> /.test(output)) {
        step = 3;
        child.stdin.write('\x03');
      } else if (step === 3 && output.includes('interrupted')) {
        child.stdin.end();
      }
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    const text = output.replace(/\r\n/g, '\n');
    expect(step).toBe(3);
    expect(text).toMatch(/\[\d+ tokens, [\d.]+ tokens\/s, .*finish abort\]\nweft: reply stopped \(Ctrl-C\): it and the message it answers are left out of the conversation\n/);
    expect(text).toMatch(/weft: interrupted\n$/);
    expect(code).toBe(130);
  });
});
