#!/usr/bin/env node
// Usage: node index.mjs [MODEL_DIR]   (default: the project's model, <repo>/models/story)
//
// Streams a story twice from the same prompt: once as the model writes it, once with the
// plugin's `ban-tokens` processor keeping a name out. The entropy analyzer runs both times.
import { fileURLToPath } from 'node:url';
import { createRuntime, runPipeline, summarize } from './pipeline.mjs';

const modelDir = process.argv[2] ?? fileURLToPath(new URL('../../models/story', import.meta.url));
const prompt = 'Once upon a time, there was a little girl named';
const banWords = ['Lily'];

const weft = createRuntime();
try {
  const model = await weft.load(modelDir);
  for (const [title, words] of [['As the model writes it', []], [`With ban-tokens keeping out ${banWords.join(', ')}`, banWords]]) {
    process.stdout.write(`\n== ${title} ==\n${prompt}`);
    const result = await runPipeline(model, { prompt, maxTokens: 60, banWords: words, onText: (t) => process.stdout.write(t) });
    process.stdout.write(`\n-- ${summarize(result).replace(/\n/g, '\n-- ')}\n`);
  }
} catch (error) {
  process.stderr.write(`compose-pipeline: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await weft.dispose();
}
