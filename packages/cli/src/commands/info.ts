import { parseInfoArgs } from '../args/info-args.js';
import { EXIT } from '../errors.js';
import { collectInfo } from '../info/collect-info.js';
import { externalDataOf } from '../info/external-data.js';
import { noteTo, type CliIo } from '../io.js';
import { resolveModelDir } from '../model-path.js';
import { openModel, sessionOptions } from '../open-model.js';
import { formatInfo } from '../output/format-info.js';
import { jsonLine, textWriter } from '../output/terminal-text.js';
import { loadPlugins } from '../plugins/load-plugins.js';
import { USAGE } from '../usage.js';

/**
 * `weft info`: loads a model folder as `weft generate` would (same plugins, backend choice and
 * graph) and reports what Weft will do with it: the model and its graph, the tokenizer,
 * generation defaults, the backend and the registry. Generates nothing; the model is disposed
 * before the command returns, whether it succeeds or fails.
 */
export async function infoCommand(args: readonly string[], io: CliIo): Promise<number> {
  const options = parseInfoArgs(args);
  if (options.help) {
    io.stdout.write(USAGE.info);
    return EXIT.ok;
  }
  const plugins = await loadPlugins(options.plugins, io.cwd, io.signal);
  const dir = resolveModelDir(options.model, io.cwd);
  const { weft, model, close } = await openModel(dir, sessionOptions(options.threads), options.backend, { onnxFile: options.onnxFile, plugins, listsBackends: true, note: noteTo(io) }, io.signal);
  try {
    const info = collectInfo(weft, model, await externalDataOf(model));
    // Entry descriptions and backend reasons come from plugins: on a terminal their controls are shown, not run.
    if (options.json) io.stdout.write(`${jsonLine(info)}\n`);
    else textWriter(io.stdout, false)(formatInfo(info));
    return EXIT.ok;
  } finally {
    await close();
  }
}
