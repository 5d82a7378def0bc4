import { createRequire } from 'node:module';
import { debugStacks, EXIT, exitCodeOf, EVAL_FLAGS, generateFlags, oneLine, shortenLongWords, UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { terminalSafe } from './output/terminal-text.js';
import { didYouMean } from './args/suggest.js';
import { unknownNameLine } from './unknown-name.js';
import { COMMANDS, MAIN_USAGE, type CommandName } from './usage.js';
import { releaseAllLines } from './output/held-line.js';
import { CHAT_FLAGS } from './chat/chat-flags.js';

type Command = (args: readonly string[], io: CliIo) => Promise<number>;

/** Commands load on demand, so `weft --help` never loads onnxruntime. */
const LOADERS: Record<CommandName, () => Promise<Command>> = {
  generate: async () => (await import('./commands/generate.js')).generateCommand,
  chat: async () => (await import('./commands/chat.js')).chatCommand,
  eval: async () => (await import('./commands/eval.js')).evalCommand,
  bench: async () => (await import('./commands/bench.js')).benchCommand,
  demo: async () => (await import('./commands/demo.js')).demoCommand,
  info: async () => (await import('./commands/info.js')).infoCommand,
};

/** The flags of `weft info` that set load options core may reject. */
const INFO_FLAGS: Readonly<Record<string, string>> = { onnxFile: '--onnx-file', backend: '--backend' };
/** The flag of `weft bench` that sets a load option core may reject. */
const BENCH_FLAGS: Readonly<Record<string, string>> = { backend: '--backend' };

/** The flag that set each request or load option core names in an error, for `command`'s line. */
function flagsOf(command: string | undefined, rest: readonly string[]): Readonly<Record<string, string>> {
  if (command === 'generate' || command === 'demo') return generateFlags(rest);
  if (command === 'chat') return CHAT_FLAGS;
  if (command === 'eval') return EVAL_FLAGS;
  return command === 'info' ? INFO_FLAGS : command === 'bench' ? BENCH_FLAGS : {};
}

/**
 * Runs the `weft` command line in-process and resolves with its exit code: 0 success, 1 an
 * unexpected error (a plugin's own failure included), 2 bad input (usage errors and Weft's typed
 * errors), 130 interrupted. Errors
 * are reported on `io.stderr` as one line, `weft: <message>`; nothing is thrown.
 *
 * @param argv the arguments after the program name, e.g. `['generate', '--prompt', 'Hi']`
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined) {
      io.stderr.write(MAIN_USAGE);
      return EXIT.usage;
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      const topic = rest[0];
      // `weft help generate`, and as many tools take it, `weft --help generate`.
      if (topic !== undefined && (name === 'help' || !topic.startsWith('-'))) return await runCli([topic, '--help'], io);
      io.stdout.write(MAIN_USAGE);
      return EXIT.ok;
    }
    if (name === '--version' || name === '-v') {
      io.stdout.write(`${version()}\n`);
      return EXIT.ok;
    }
    if (!(COMMANDS as readonly string[]).includes(name)) {
      throw new UsageError(
        name.startsWith('-')
          ? `unknown option ${name}${name.startsWith('--') ? didYouMean(name, ['--help', '--version']) : ''} (see weft --help)`
          : `unknown command ${JSON.stringify(name)}${didYouMean(name, COMMANDS) || `; commands: ${COMMANDS.join(', ')}`} (see weft --help)`,
      );
    }
    const command = await LOADERS[name as CommandName]();
    return await command(rest, io);
  } catch (error) {
    const code = exitCodeOf(error);
    // A value quoted back whole (a 15 KB path) would bury the message: long runs are shortened.
    const flags = flagsOf(name, rest);
    // An unknown name a flag gave (`--kv int3`) is said in the flag's words, with did-you-mean.
    const line = `weft: ${shortenLongWords(unknownNameLine(error, flags, rest) ?? oneLine(error, flags))}\n`;
    // The line may quote what a model folder holds (a chat template, a token): on a terminal,
    // controls are shown as the generated text's are.
    io.stderr.write(io.stderr.isTTY === true ? terminalSafe(line.slice(0, -1)) + '\n' : line);
    // The error's own stack, and that of the innermost cause that is not Weft's (what a plugin's
    // module, factory, setup, processor, analyzer or hook threw: where its author needs to look).
    if (process.env['WEFT_DEBUG']) {
      const stacks = debugStacks(error);
      io.stderr.write(io.stderr.isTTY === true ? terminalSafe(stacks) : stacks);
    }
    return code;
  } finally {
    // A command that has returned holds no line open (a later one in this process must not end it).
    releaseAllLines();
  }
}

function version(): string {
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}
