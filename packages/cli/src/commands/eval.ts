import { parseEvalArgs } from '../args/eval-args.js';
import { EXIT, UsageError } from '../errors.js';
import { evaluateDocuments } from '../eval/evaluate-documents.js';
import { splitDocuments } from '../eval/split-documents.js';
import { noteTo, type CliIo } from '../io.js';
import { fromInvocationDir } from '../invocation-dir.js';
import { resolveModelDir } from '../model-path.js';
import { openModel, sessionOptions } from '../open-model.js';
import { loadPlugins } from '../plugins/load-plugins.js';
import { bytes, fixed, round } from '../output/format.js';
import { progressLine } from '../output/progress-line.js';
import { readUtf8Text } from '../read-text.js';
import { USAGE } from '../usage.js';

/** `weft eval`: perplexity of a text file, document by document, through the KV-cache path. */
export async function evalCommand(args: readonly string[], io: CliIo): Promise<number> {
  const options = parseEvalArgs(args);
  if (options.help) {
    io.stdout.write(USAGE.eval);
    return EXIT.ok;
  }
  const plugins = await loadPlugins(options.plugins, io.cwd, io.signal);
  const textFile = options.textFile === '-' ? '-' : fromInvocationDir(options.textFile, io.cwd);
  const text = await readUtf8Text(textFile, '--text-file', { stdin: io.stdin, signal: io.signal, notice: (line) => void io.stderr.write(`weft: ${line}\n`) });
  const documents = splitDocuments(text);
  if (documents.length === 0) throw new UsageError(`--text-file ${textFile} holds no text`);
  const dir = resolveModelDir(options.model, io.cwd);
  const { model, close } = await openModel(dir, sessionOptions(options.threads), options.backend, { router: options.router?.name, onnxFile: options.onnxFile, plugins, note: noteTo(io) }, io.signal);
  const progress = progressLine(io.stderr);
  try {
    let s;
    try {
      s = await evaluateDocuments(
        model,
        documents,
        options.prefill,
        io.signal,
        { ...(options.kv ? { kv: options.kv } : {}), ...(options.router ? { router: options.router } : {}) },
        (p) => progress.update(p),
      );
    } finally {
      progress.clear();
    }
    if (s.tokens === 0) throw new UsageError(`--text-file ${textFile} has no document of two or more tokens to score`);
    if (options.json) {
      io.stdout.write(
        `${JSON.stringify({
          perplexity: s.perplexity,
          nll: s.nll,
          tokens: s.tokens,
          documents: s.documents,
          skippedDocuments: s.skippedDocuments,
          longDocuments: s.longDocuments,
          windows: s.windows,
          kvBytes: s.kvBytes,
          kvBytesMax: s.kvBytesMax,
          kvBytesFp32: s.kvBytesFp32,
          kvBytesFp32Max: s.kvBytesFp32Max,
          msPerToken: s.msPerToken === null ? null : round(s.msPerToken, 4),
          prefill: options.prefill,
          backend: model.backend,
          model: dir,
        })}\n`,
      );
    } else {
      const lines = [
        `model        ${dir} (${model.backend})`,
        `perplexity   ${fixed(s.perplexity, 4)}`,
        `tokens       ${s.tokens} scored in ${s.documents} document${s.documents === 1 ? '' : 's'}` +
          (s.skippedDocuments > 0 ? ` (${s.skippedDocuments} too short, skipped)` : '') +
          (s.longDocuments > 0
            ? `; ${s.longDocuments} longer than the context of ${model.config.maxPositions} tokens, scored in windows (${s.windows} windows in all)`
            : ''),
        `kv bytes     ${bytes(s.kvBytes)} at the end of the last document, ${bytes(s.kvBytesMax)} max`,
        `kv fp32      ${bytes(s.kvBytesFp32)} at the end of the last document, ${bytes(s.kvBytesFp32Max)} max`,
        `ms/token     ${s.msPerToken === null ? 'n/a (no single-token step: each document was one prefill)' : `${fixed(s.msPerToken, 3)} (median per single-token step)`}`,
      ];
      io.stdout.write(`${lines.join('\n')}\n`);
    }
    return EXIT.ok;
  } finally {
    await close();
  }
}
