#!/usr/bin/env node
// Usage: node index.mjs [MODEL_DIR] [WORD…]   (default: the project's model, <repo>/models/story)
//
// Streams a story twice from the same prompt: once as the model writes it, once with the
// plugin's `ban-tokens` processor keeping out the WORDs, or by default the name the model gave
// the girl the first time. The entropy analyzer runs both times; it sees the model's own logits,
// so its top token shows where the processor changed what the model would have written.
import { fileURLToPath } from 'node:url';
import { EXIT_USAGE, createRuntime, errorLine, exitCodeOf, firstWord, runPipeline, summarize } from './pipeline.mjs';

const modelDir = process.argv[2] ?? fileURLToPath(new URL('../../models/story', import.meta.url));
const prompt = 'Once upon a time, there was a little girl named';
const givenWords = process.argv.length > 3 ? process.argv.slice(3).filter((word) => word.trim() !== '') : undefined;
if (givenWords?.length === 0) {
  process.stderr.write('compose-pipeline: no word to ban: the WORDs after MODEL_DIR are empty\n');
  process.exit(EXIT_USAGE);
}

const weft = createRuntime();
try {
  const model = await weft.load(modelDir);
  process.stdout.write(`\n== As the model writes it ==\n${prompt}`);
  const plain = await runPipeline(model, { prompt, maxTokens: 60, onText: (t) => process.stdout.write(t) });
  process.stdout.write(`\n-- ${summarize(plain).replace(/\n/g, '\n-- ')}\n`);
  const banWords = givenWords ?? [firstWord(plain.text)];
  process.stdout.write(`\n== With ban-tokens keeping out ${banWords.join(', ')} ==\n${prompt}`);
  const banned = await runPipeline(model, { prompt, maxTokens: 60, banWords, onText: (t) => process.stdout.write(t) });
  process.stdout.write(`\n-- ${summarize(banned).replace(/\n/g, '\n-- ')}\n`);
} catch (error) {
  // One line; exit code 2 for what the caller passed (a bad model folder, an unusable option), 1
  // for other failures, as the `weft` CLI does.
  process.stderr.write(`compose-pipeline: ${errorLine(error)}\n`);
  process.exitCode = exitCodeOf(error);
} finally {
  await weft.dispose();
}
