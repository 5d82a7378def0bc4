import { DEMO_MAX_TOKENS, parseDemoArgs } from '../args/demo-args.js';
import { EXIT } from '../errors.js';
import { noteTo, type CliIo } from '../io.js';
import { resolveModelDir } from '../model-path.js';
import { openModel, sessionOptions } from '../open-model.js';
import { loadPlugins } from '../plugins/load-plugins.js';
import { consumeGeneration } from '../output/consume-generation.js';
import { maxTokensNote } from '../output/max-tokens-note.js';
import { openLine } from '../output/open-line.js';
import { statsLine } from '../output/stats-line.js';
import { textWriter } from '../output/terminal-text.js';
import { USAGE } from '../usage.js';
import { releaseAllLines } from '../output/held-line.js';

/** The story opening the demo continues. */
export const DEMO_PROMPT = 'Once upon a time, there was a little fox named';

/** `weft demo`: streams a story from the project's model, token by token. */
export async function demoCommand(args: readonly string[], io: CliIo): Promise<number> {
  const options = parseDemoArgs(args);
  if (options.help) {
    io.stdout.write(USAGE.demo);
    return EXIT.ok;
  }
  const plugins = await loadPlugins(options.plugins, io.cwd, io.signal);
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const { model, close } = await openModel(resolveModelDir(options.model, io.cwd), sessionOptions(options.threads), options.backend, { plugins, note: noteTo(io) }, io.signal);
  try {
    io.stdout.write(DEMO_PROMPT);
    const line = openLine(io.stdout);
    line.wrote(DEMO_PROMPT);
    const writeText = textWriter(io.stdout, options.raw);
    let note: string | undefined;
    const { done } = await consumeGeneration(
      model,
      {
        prompt: DEMO_PROMPT,
        maxTokens: options.maxTokens ?? DEMO_MAX_TOKENS,
        temperature: 0.8,
        topK: 50,
        topP: 0.95,
        seed,
        ...(io.signal ? { signal: io.signal } : {}),
      },
      {
        onText: (text) => {
          writeText(text);
          line.wrote(text);
        },
        // Said after the story, with the stats: the story's line has begun on stdout already.
        onEvent: (e) => {
          if (e.type === 'start') note = maxTokensNote(options.maxTokens, e.promptIds[0]?.length ?? 0, model.config.maxPositions);
        },
      },
    ).catch((error: unknown) => {
      // Failed mid-story (a plugin's hook threw): on a terminal the error line starts a line of its own.
      line.endOnTerminal();
      throw error;
    });
    io.stdout.write('\n');
    // Ended: nothing for the process guards to end again.
    releaseAllLines();
    if (note !== undefined) io.stderr.write(`${note}\n`);
    io.stderr.write(`${statsLine(done)} seed ${seed}\n`);
    return done.finishReason === 'abort' ? EXIT.interrupted : EXIT.ok;
  } finally {
    await close();
  }
}
