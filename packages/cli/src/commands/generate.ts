import type { FailoverEvent, StartEvent } from '@weft/core';
import { parseGenerateArgs } from '../args/generate-args.js';
import { promptFromFile } from '../args/prompt-source.js';
import { EXIT } from '../errors.js';
import type { CliIo } from '../io.js';
import { fromInvocationDir } from '../invocation-dir.js';
import { openRequestModel } from '../open-model.js';
import { loadPlugins } from '../plugins/load-plugins.js';
import { consumeGeneration } from '../output/consume-generation.js';
import { readUtf8Text } from '../read-text.js';
import { statsLine } from '../output/stats-line.js';
import { jsonLine, textWriter } from '../output/terminal-text.js';
import { analyzerNote, doneRecords, streamHandlers } from '../output/generation-records.js';
import { maxTokensNote } from '../output/max-tokens-note.js';
import { openLine } from '../output/open-line.js';
import { samplingNote } from '../output/sampling-note.js';
import { USAGE } from '../usage.js';
import { releaseAllLines } from '../output/held-line.js';

/** `weft generate`: streams text (or JSON lines) for one prompt. */
export async function generateCommand(args: readonly string[], io: CliIo): Promise<number> {
  const options = parseGenerateArgs(args);
  if (options.help) {
    io.stdout.write(USAGE.generate);
    return EXIT.ok;
  }
  const plugins = await loadPlugins(options.plugins, io.cwd, io.signal);
  const given = options.promptFile;
  const file = given === undefined || given.path === '-' ? given : { ...given, path: fromInvocationDir(given.path, io.cwd) };
  const read = { stdin: io.stdin, signal: io.signal, notice: (line: string) => void io.stderr.write(`weft: ${line}\n`) };
  const fromFile = file === undefined ? undefined : promptFromFile(file, await readUtf8Text(file.path, file.flag, read));
  const { model, close } = await openRequestModel(options, io, plugins);
  try {
    const request = { ...options.request, ...fromFile, ...(io.signal ? { signal: io.signal } : {}) };
    const write = (line: object): void => void io.stdout.write(`${jsonLine(line)}\n`);
    // Notes go to stderr in both modes, as the other notes do: --json's stdout keeps its records.
    const startNotes = (e: StartEvent | FailoverEvent): void => {
      if (e.type !== 'start') return;
      const note = maxTokensNote(options.request.maxTokens, e.promptIds[0]?.length ?? 0, model.config.maxPositions);
      if (note !== undefined) io.stderr.write(`${note}\n`);
      // Filters that greedy decoding ignores: said once the request is accepted, before the text.
      const sampling = samplingNote(options.request, model.generationConfig);
      if (sampling !== undefined) io.stderr.write(`${sampling}\n`);
    };
    const line = openLine(io.stdout);
    // Analysis events are records: text mode has no place for them, so it counts them for a note.
    const analyzed = new Map<string, number>();
    const out = { io, json: options.json, write, writeText: textWriter(io.stdout, options.raw), line, onStartOrFailover: startNotes, analyzed };
    const { handlers, streamed } = streamHandlers(out);
    const { done } = await consumeGeneration(model, request, handlers).catch((error: unknown) => {
      // Failed mid-line (a plugin's hook threw): on a terminal the error line starts a line of its own.
      line.endOnTerminal();
      throw error;
    });
    if (options.json) doneRecords(out, model, done, streamed());
    else {
      // On a terminal, end the text's line so the shell's prompt does not land after it; a pipe
      // or file gets the text byte for byte, with nothing added.
      if (io.stdout.isTTY === true) io.stdout.write('\n');
      // Ended: nothing for the process guards to end again.
      releaseAllLines();
      const note = analyzerNote(analyzed);
      if (note !== undefined) io.stderr.write(`${note}\n`);
      io.stderr.write(`${statsLine(done)}\n`);
    }
    return done.finishReason === 'abort' ? EXIT.interrupted : EXIT.ok;
  } finally {
    await close();
  }
}
