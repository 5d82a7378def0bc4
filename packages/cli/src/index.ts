/**
 * @weft/cli — the `weft` command (generate, chat, eval, bench, demo, info) and its building blocks, usable
 * in-process: `runCli(argv, io)` resolves with the exit code instead of exiting.
 */
export { runCli } from './run-cli.js';
export { processIo, type CliIo, type TerminalInput } from './io.js';
export type { StdinSource } from './read-text.js';
export { UsageError, InterruptedError, EXIT, exitCodeOf } from './errors.js';
export { DEFAULT_MODEL_DIR, missingDefaultModel, resolveModelDir } from './model-path.js';
export { BareGreedyLoop, type BareRunResult } from './bench/bare-loop.js';
export { benchPromptIds, BENCH_SENTENCE } from './bench/bench-prompt.js';
export { runBench, type BenchOptions, type BenchReport, type EngineSummary } from './bench/run-bench.js';
export { loadPlugins, type CliPlugin } from './plugins/load-plugins.js';
export { parsePluginSpec, type PluginSpec } from './plugins/plugin-spec.js';
export { sdkGreedyRun, type EngineRun } from './bench/sdk-run.js';
export { evaluateDocuments, type EvalSummary } from './eval/evaluate-documents.js';
export { splitDocuments } from './eval/split-documents.js';
export { DEMO_PROMPT } from './commands/demo.js';
