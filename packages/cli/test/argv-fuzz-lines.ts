/**
 * The argv fuzzer's generator (see argv-fuzz.test.ts): seeded command lines built from the real
 * flags of each command (the option tables in src/args), with good values, wrong ones, `=` forms,
 * missing values, repeated flags, unknown flags, unicode and very long values. A case is made
 * again from its seed alone.
 */
import { BENCH_OPTIONS } from '../src/args/bench-args.js';
import { DEMO_OPTIONS } from '../src/args/demo-args.js';
import { EVAL_OPTIONS } from '../src/args/eval-args.js';
import { GENERATE_OPTIONS } from '../src/args/generate-args.js';
import { COMMON_OPTIONS } from '../src/args/parse-command-args.js';
import { ARGV_BYTE_LIMIT } from '../src/argv-limit.js';

/** mulberry32: the same seed gives the same command line everywhere. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = (seed ^ 0x7f4a7c15) >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** Files and folders the command lines name (made once by the test). */
export interface Scratch {
  readonly model: string;
  /** A plain text file of two short documents. */
  readonly text: string;
  readonly emptyFile: string;
  /** Bytes that are not UTF-8. */
  readonly latin1: string;
  /** A messages JSON file. */
  readonly messages: string;
  readonly dir: string;
  /** A plugin that registers a processor `fuzz-ban`, a sampler `fuzz-first` and an analyzer `fuzz-top`. */
  readonly plugin: string;
  /** A plugin whose setup throws. */
  readonly throwingPlugin: string;
  /** A module that exports nothing usable. */
  readonly notAPlugin: string;
}

/** Over the 16 KiB command-line guard by itself. */
const OVER_GUARD = 'x'.repeat(ARGV_BYTE_LIMIT + 100);
/** Long but under the guard (with the rest of a command line). */
const LONG = 'story '.repeat(1500);
/** A long value without spaces, under the guard (a path, a name, an id list). */
const LONG_WORD = 'w'.repeat(12_000);
/** More ids than the story model's context (1024). */
const MANY_IDS = Array.from({ length: 1100 }, (_, i) => 3 + (i % 900)).join(',');

/** Values each flag takes: good ones first (`good` of them), then wrong ones. */
interface Values {
  readonly good: number;
  readonly all: readonly string[];
}
const values = (good: readonly string[], bad: readonly string[]): Values => ({ good: good.length, all: [...good, ...bad] });

/** Every flag's values, by name (`s` gives the scratch paths). Each command's every flag must be here. */
function flagValues(s: Scratch): Readonly<Record<string, Values>> {
  const numbers = (good: readonly string[]) => values(good, ['', '-1', 'abc', '1.5', 'NaN', 'Infinity', '1e400', '0x10', ' 3', '３', '99999999999999999999999', '-0', '+1']);
  return {
    help: values([], []),
    model: values([s.model, `file://${s.model}`], ['', '/nonexistent/weft-model', s.text, s.dir, 'ftp://example.com/m', '~/nonexistent-weft-model', 'file://', 'file://host/x', '\u0000', 'a\nb', LONG_WORD, OVER_GUARD]),
    threads: numbers(['1', '0', '2']),
    backend: values(['node', 'auto', 'node', 'auto', 'web'], ['', 'bogus', 'NODE', ' node', 'node,web', '__proto__', 'node\n', LONG_WORD]),
    plugin: values([s.plugin], ['', s.throwingPlugin, s.notAPlugin, './no-such-plugin.mjs', `${s.plugin}:`, `${s.plugin}:x=1`, `${s.plugin}:x=`, ':x=1', 'weft-no-such-package-fuzz', s.dir, s.text, '~/no-such.mjs']),
    kv: values(['fp32', 'fp16', 'int8', 'int4', 'kivi', 'temporal', 'int4:group=32', 'kivi:residual=16'], ['', 'nope', 'int4:group=0', 'int4:group=', 'int4:', ':x', 'int4:group=32,group=16', 'kivi:residual=abc', '__proto__', 'int4:__proto__=1', 'int4:constructor=1', 'int8:bogus=1', 'fp32:x=1', 'int4:group=1e400', 'ínt4', 'int4:group=32:x', 'int4:group=3\n', 'int4\r\n', `int4:group=${LONG_WORD}`, LONG_WORD]),
    router: values(['full', 'window', 'window:budget=8', 'sink-window:sinks=4,window=28', 'strided', 'key-norm:budget=16', 'heavy-hitter:budget=16', 'content-aware'], ['', 'nope', 'window:budget=0', 'window:budget=-1', 'window:budget', 'sink-window:sinks=40,window=1', 'hybrid:budget=8', 'window:budget=1e9', 'window:x=1', '=']),
    'onnx-file': values(['onnx/model.onnx', 'onnx/model_with_attentions.onnx'], ['', 'nope.onnx', 'config.json', '../config.json', '/etc/hostname', 'onnx', '../../../../etc/passwd', 'onnx/../onnx/model.onnx', LONG_WORD]),
    prompt: values(['Once upon a time', 'Tom', 'Ünïcödé 😀 said', 'a\tb\nc', '<|bos|>'], ['', ' ', '-x', '--', '\uD800', '\u001b[2J', LONG, LONG_WORD, OVER_GUARD]),
    'prompt-file': values([s.text, '-'], ['', s.emptyFile, s.latin1, s.dir, '/nonexistent/prompt.txt', '~/nonexistent-prompt.txt']),
    'prompt-ids': values(['1,423,82', '1, 2 ,3', '0', '2'], ['', '1,,2', '-1', '1.5', '1024', '1023,1024', '9007199254740993', 'a', ',', '1;2', '１', '1\n2', MANY_IDS, LONG_WORD]),
    messages: values(['[{"role":"user","content":"Hi"}]', '[{"role":"system","content":"Be brief"},{"role":"user","content":"Tom"}]'], ['', '[]', '{}', 'not json', '[{"role":"user"}]', '[{"role":1,"content":"x"}]', '[null]', '[[{"role":"user","content":"x"}]]', '"x"', '[{"role":"user","content":"x","__proto__":{"a":1}}]', `[{"role":"user","content":"${LONG}"}]`, `[{"role":"${LONG_WORD}","content":"x"}]`, '[{"role":"user","content":"\\ud800"}]', `not json ${LONG_WORD}`]),
    'messages-file': values([s.messages, '-'], ['', s.text, s.emptyFile, s.latin1, s.dir, '/nonexistent/m.json']),
    'max-tokens': numbers(['1', '2', '3', '5', '1024']),
    'min-tokens': numbers(['0', '1', '3', '2000']),
    temperature: values(['0', '0.7', '1', '.5', '5.', '1e-3'], ['', '-1', 'abc', 'NaN', 'inf', '1e400', '0x1', '1,5']),
    'top-k': numbers(['0', '1', '50', '5000']),
    'top-p': values(['0', '0.5', '1', '.95'], ['', '1.5', '-0.1', 'x', '1e400', '0x1']),
    'min-p': values(['0', '0.1', '1'], ['', '2', '-0.1', 'x']),
    'repetition-penalty': values(['1', '1.3', '0.5'], ['', '0', '-1', 'x', '1e400']),
    seed: values(['0', '42', '4294967295'], ['', '4294967296', '-1', 'x', '1.5', '1e3']),
    stop: values(['.', ' ', 'the', '😀', '\n', '<|eos|>'], ['', '\uD800', 'x\uDC00', LONG_WORD, OVER_GUARD]),
    processor: values(['fuzz-ban', 'fuzz-ban:id=5'], ['', 'nope', 'fuzz-ban:id=', ':x', 'fuzz-ban:id=x']),
    sampler: values(['fuzz-first'], ['', 'nope', 'fuzz-first:x=1', 'fuzz-first:']),
    analyzer: values(['router-decisions', 'fuzz-top'], ['', 'nope', 'router-decisions:x=1', 'attention-importance', 'attention-importance:x']),
    json: values([], []),
    raw: values([], []),
    'text-file': values([s.text, '-'], ['', s.emptyFile, s.latin1, s.dir, '/nonexistent/t.txt', '~/nonexistent-t.txt', LONG_WORD]),
    prefill: numbers(['1', '2', '4', '100000']),
    tokens: numbers(['2', '3', '2', '3', '1021']),
    'prompt-tokens': numbers(['1', '4', '8', '1', '4', '8', '1022', '1023', '5000']),
    batch: numbers(['1', '2', '1', '2', '64', '256', '257']),
    runs: numbers(['2']),
    warmup: numbers(['0', '1']),
  };
}

/** The flags of each command, from its option table (so a flag added there is fuzzed too). */
export const COMMAND_FLAGS: Readonly<Record<string, readonly string[]>> = {
  generate: Object.keys({ ...COMMON_OPTIONS, ...GENERATE_OPTIONS }),
  eval: Object.keys({ ...COMMON_OPTIONS, ...EVAL_OPTIONS }),
  bench: Object.keys({ ...COMMON_OPTIONS, ...BENCH_OPTIONS }),
  demo: Object.keys({ ...COMMON_OPTIONS, ...DEMO_OPTIONS }),
};
const BOOLEAN_FLAGS = new Set(['help', 'json', 'raw']);
const REPEATABLE = new Set(['plugin', 'stop', 'processor', 'analyzer']);

/** Flags that must have a small value unless the case fuzzes them (a run must stay short). */
const KEEP_SMALL: Readonly<Record<string, readonly [string, string]>> = {
  generate: ['max-tokens', '3'],
  demo: ['max-tokens', '3'],
  bench: ['tokens', '2'],
};
const BENCH_SMALL: readonly [string, string][] = [['runs', '2'], ['warmup', '0'], ['prompt-tokens', '4'], ['batch', '1'], ['threads', '1']];

export interface CommandLine {
  readonly argv: readonly string[];
  /** What `--prompt-file -` and friends read (always given: the runner's stdin); bytes may be no UTF-8. */
  readonly stdin: string | Uint8Array;
  /** Whether stdout says it is a terminal (the text is then made terminal-safe unless --raw). */
  readonly tty: boolean;
  /** Abort the run once it has written to stdout (as Ctrl-C would). */
  readonly interrupt: boolean;
  /** Whether any flag value is wrong on purpose (for the report). */
  readonly hostile: boolean;
}

/** The command line of `seed`. */
export function makeCommandLine(seed: number, scratch: Scratch): CommandLine {
  const rng = new Rng(seed);
  const table = flagValues(scratch);
  const roll = rng.next();
  if (roll < 0.08) return topLevel(rng);
  const command = roll < 0.6 ? 'generate' : roll < 0.75 ? 'eval' : roll < 0.88 ? 'demo' : 'bench';
  const hostility = rng.pick([0, 0.1, 0.25, 0.5]);
  const flags = COMMAND_FLAGS[command]!;
  const argv: string[] = [command];
  const chosen = new Set<string>();
  let hostile = false;
  const add = (flag: string, form: 'space' | 'equals' | 'missing', value: string): void => {
    chosen.add(flag);
    if (BOOLEAN_FLAGS.has(flag)) {
      argv.push(form === 'equals' ? `--${flag}=${value || 'yes'}` : `--${flag}`);
      if (form === 'equals') hostile = true;
      return;
    }
    if (form === 'missing') argv.push(`--${flag}`);
    else if (form === 'equals') argv.push(`--${flag}=${value}`);
    else argv.push(`--${flag}`, value);
  };
  const valueOf = (flag: string): string => {
    const v = table[flag];
    if (v === undefined) throw new Error(`the argv fuzzer has no values for --${flag}; add them to flagValues`);
    if (v.all.length === 0) return '';
    if ((v.good === 0 || rng.chance(hostility)) && v.all.length > v.good) {
      hostile = true;
      return rng.pick(v.all.slice(v.good));
    }
    return rng.pick(v.all.slice(0, v.good));
  };
  // The prompt flags of generate: usually exactly one.
  if (command === 'generate' && rng.chance(0.9)) {
    const source = rng.pick(['prompt', 'prompt', 'prompt', 'prompt-ids', 'messages', 'prompt-file', 'messages-file']);
    add(source, 'space', valueOf(source));
  }
  if (command === 'eval' && rng.chance(0.92)) add('text-file', 'space', valueOf('text-file'));
  if (rng.chance(0.5)) add('threads', 'space', '1');
  // Some more flags, each with its value, in a random form.
  const extra = rng.pick([0, 1, 2, 3, 4, 6]);
  for (let i = 0; i < extra; i++) {
    const flag = rng.pick(flags);
    if (flag === 'help' && !rng.chance(0.3)) continue;
    if (chosen.has(flag) && !REPEATABLE.has(flag) && !rng.chance(hostility)) continue;
    if (chosen.has(flag) && !REPEATABLE.has(flag)) hostile = true;
    const form = rng.chance(0.2) ? 'equals' : rng.chance(hostility * 0.15) ? 'missing' : 'space';
    if (form === 'missing') hostile = true;
    add(flag, form, valueOf(flag));
  }
  // The processor, sampler and fuzz analyzer come from the fuzz plugin.
  const usesPlugin = argv.some((a) => /fuzz-(ban|first|top)/.test(a));
  if (usesPlugin && !chosen.has('plugin') && rng.chance(0.9)) add('plugin', 'space', scratch.plugin);
  const small = KEEP_SMALL[command];
  if (small && !chosen.has(small[0])) add(small[0], 'space', small[1]);
  if (command === 'bench') for (const [flag, value] of BENCH_SMALL) if (!chosen.has(flag)) add(flag, 'space', value);
  // Command-line oddities.
  if (rng.chance(hostility * 0.5)) {
    hostile = true;
    const odd = rng.pick(['--max_tokens', '--promt', '-x', 'extra', '--', '-', '---json', '--no-json', '--JSON', '--prompt-ids=', '--kv=', '--😀', `--${'z'.repeat(300)}`]);
    argv.splice(1 + rng.int(argv.length), 0, odd);
  }
  if (rng.chance(0.05)) argv.splice(1 + rng.int(argv.length), 0, rng.pick(['-h', '--help']));
  const stdin = rng.pick<string | Uint8Array>(['Once upon a time', '[{"role":"user","content":"Hi"}]', '', Uint8Array.of(0x63, 0xff, 0xfe)]);
  return { argv, stdin, interrupt: rng.chance(0.08), hostile, tty: rng.chance(0.15) };
}

function topLevel(rng: Rng): CommandLine {
  const argv = rng.pick<readonly string[]>([
    [], ['--help'], ['-h'], ['help'], ['help', 'generate'], ['help', 'bench'], ['help', 'nope'], ['--help', 'eval'], ['--help', '--json'],
    ['--version'], ['-v'], ['nope'], ['generat'], ['--nope'], ['--hepl'], ['-'], [''], ['GENERATE'], ['😀'], [OVER_GUARD], ['help', ''],
  ]);
  return { argv, stdin: '', interrupt: false, hostile: true, tty: false };
}
