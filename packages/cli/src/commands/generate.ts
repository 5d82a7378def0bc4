import type { FailoverEvent, StartEvent } from '@weft/core';
import { parseGenerateArgs } from '../args/generate-args.js';
import { promptFromFile } from '../args/prompt-source.js';
import { EXIT } from '../errors.js';
import { noteTo, type CliIo } from '../io.js';
import { fromInvocationDir } from '../invocation-dir.js';
import { resolveModelDir } from '../model-path.js';
import { openModel, sessionOptions } from '../open-model.js';
import { loadPlugins } from '../plugins/load-plugins.js';
import { consumeGeneration } from '../output/consume-generation.js';
import { readUtf8Text } from '../read-text.js';
import { round } from '../output/format.js';
import { statsLine } from '../output/stats-line.js';
import { jsonLine, terminalSafe, textWriter } from '../output/terminal-text.js';
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
  const named = (ref: unknown): string | undefined => (typeof ref === 'string' ? ref : ref !== null && typeof ref === 'object' && 'name' in ref ? String(ref.name) : undefined);
  const analyzers = (options.request.analyzers ?? []).map(named).filter((n): n is string => n !== undefined);
  const { model, close } = await openModel(
    resolveModelDir(options.model, io.cwd),
    sessionOptions(options.threads),
    options.backend,
    { router: named(options.request.router), analyzers, onnxFile: options.onnxFile, plugins, note: noteTo(io) },
    io.signal,
  );
  try {
    const request = { ...options.request, ...fromFile, ...(io.signal ? { signal: io.signal } : {}) };
    const write = (line: object): void => void io.stdout.write(`${jsonLine(line)}\n`);
    let streamed = '';
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
    const writeText = textWriter(io.stdout, options.raw);
    // Analysis events are records: text mode has no place for them, so it counts them for a note.
    const analyzed = new Map<string, number>();
    const { done } = await consumeGeneration(
      model,
      request,
      options.json
        ? {
            onToken: (e) => {
              streamed += e.text;
              write({ type: 'token', id: e.id, text: e.text });
            },
            onEvent: (e) => {
              startNotes(e);
              if (e.type === 'start') write({ type: 'backend', backend: e.backend, rejected: e.rejectedBackends });
              else write({ type: 'failover', step: e.step, from: e.from, to: e.to, reason: e.reason });
            },
            onAnalysis: (e) => write({ type: 'analysis', analyzer: e.analyzer, step: e.step, data: plainData(e.data) }),
          }
        : {
            onText: (text) => {
              writeText(text);
              line.wrote(text);
            },
            onAnalysis: (e) => void analyzed.set(e.analyzer, (analyzed.get(e.analyzer) ?? 0) + 1),
            onEvent: (e) => {
              startNotes(e);
              if (e.type === 'failover') {
                const line = `[weft: ${e.from} failed at step ${e.step} (${e.reason}); continuing on ${e.to}]`;
                io.stderr.write(`${io.stderr.isTTY === true ? terminalSafe(line) : line}\n`);
              }
            },
          },
    ).catch((error: unknown) => {
      // Failed mid-line (a plugin's hook threw): on a terminal the error line starts a line of its own.
      line.endOnTerminal();
      throw error;
    });
    const row = done.rows[0]!;
    if (options.json) {
      // Text the loop held back (an unfinished character or a partial stop string) and released
      // at the end: token texts plus this line always add up to done.text.
      const rest = row.text.slice(streamed.length);
      if (rest !== '') write({ type: 'text', text: rest });
      write({
        type: 'done',
        ids: row.ids,
        text: row.text,
        finishReason: row.finishReason,
        promptTokens: row.usage.promptTokens,
        completionTokens: row.usage.completionTokens,
        ttftMs: round(done.ttftMs),
        msPerToken: round(done.msPerToken),
        durationMs: round(done.durationMs),
        backend: model.backend,
        rejectedBackends: model.rejectedBackends,
        kvBytes: done.kvBytes,
      });
    } else {
      // On a terminal, end the text's line so the shell's prompt does not land after it; a pipe
      // or file gets the text byte for byte, with nothing added.
      if (io.stdout.isTTY === true) io.stdout.write('\n');
      // Ended: nothing for the process guards to end again.
      releaseAllLines();
      if (analyzed.size > 0) {
        const counts = [...analyzed].map(([name, n]) => `${n} from ${name}`).join(', ');
        io.stderr.write(`weft: note: --analyzer output (${counts}) is printed only with --json, as {"type":"analysis",...} lines\n`);
      }
      io.stderr.write(`${statsLine(done)}\n`);
    }
    return done.finishReason === 'abort' ? EXIT.interrupted : EXIT.ok;
  } finally {
    await close();
  }
}

/** An analyzer's data as JSON shows it: typed arrays as arrays (JSON.stringify writes them as objects keyed by index). */
export function plainData(data: unknown): unknown {
  try {
    const text = JSON.stringify(data, (_key, value: unknown) => (ArrayBuffer.isView(value) && !(value instanceof DataView) ? Array.from(value as unknown as ArrayLike<number>) : value));
    return text === undefined ? null : JSON.parse(text);
  } catch (error) {
    // BigInts, cycles: what it is, rather than ending the run.
    return `(not JSON: ${(error as Error).message})`;
  }
}
