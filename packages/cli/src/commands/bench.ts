import { parseBenchArgs } from '../args/bench-args.js';
import { benchJson, formatBenchTable } from '../bench/format-report.js';
import { runBench } from '../bench/run-bench.js';
import { EXIT } from '../errors.js';
import { noteTo, type CliIo } from '../io.js';
import { resolveLocalModelDir } from '../model-path.js';
import { loadPlugins } from '../plugins/load-plugins.js';
import { USAGE } from '../usage.js';

/** `weft bench`: Weft's greedy loop against a bare onnxruntime-node loop, alternated in one process. */
export async function benchCommand(args: readonly string[], io: CliIo): Promise<number> {
  const options = parseBenchArgs(args);
  if (options.help) {
    io.stdout.write(USAGE.bench);
    return EXIT.ok;
  }
  const model = resolveLocalModelDir(options.model, 'bench', io.cwd);
  const plugins = await loadPlugins(options.plugins, io.cwd, io.signal);
  const report = await runBench({
    model,
    threads: options.threads,
    tokens: options.tokens,
    promptTokens: options.promptTokens,
    batch: options.batch,
    runs: options.runs,
    warmup: options.warmup,
    ...(options.backend ? { backend: options.backend } : {}),
    ...(plugins.length > 0 ? { plugins } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
    note: noteTo(io),
  });
  if (!report.idsMatch) {
    io.stderr.write('weft: warning: the Weft loop and the bare onnxruntime loop produced different token ids\n');
  }
  io.stdout.write(`${options.json ? JSON.stringify(benchJson(report)) : formatBenchTable(report)}\n`);
  return EXIT.ok;
}
