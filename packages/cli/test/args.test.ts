import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseIdList } from '../src/args/prompt-source.js';
import { BENCH_OPTIONS, parseBenchArgs } from '../src/args/bench-args.js';
import { DEMO_OPTIONS } from '../src/args/demo-args.js';
import { EVAL_OPTIONS } from '../src/args/eval-args.js';
import { GENERATE_OPTIONS } from '../src/args/generate-args.js';
import { parseDecimal, parseInteger } from '../src/args/numbers.js';
import { splitDocuments, UsageError } from '../src/index.js';
import { runtimeLogLevel } from '../src/open-model.js';
import { USAGE } from '../src/usage.js';
import { cli } from './helpers.js';

/** The widest help line (a synopsis aside): where the option descriptions wrap. */
const HELP_COLUMN = 110;

// None of these reaches a model: input is validated before anything is loaded.
describe('bad command lines exit 2 with one line on stderr', () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--frob'], /unknown option --frob/],
    [['generate', '--prompt', 'hi', '--bogus'], /unknown option --bogus/],
    [['generate'], /give a prompt with --prompt/],
    [['generate', '--prompt', 'a', '--prompt-ids', '1,2'], /only one of --prompt, --prompt-ids/],
    [['generate', '--prompt', 'a', '--max-tokens', '5x'], /--max-tokens must be an integer >= 1 \(got "5x"\)/],
    [['generate', '--prompt', 'a', '--max-tokens', '0'], /--max-tokens must be an integer >= 1/],
    [['generate', '--prompt', 'a', '--max-tokens=-3'], /--max-tokens must be an integer/],
    [['generate', '--prompt', 'a', '--max-tokens', 'NaN'], /--max-tokens must be an integer/],
    [['generate', '--prompt', 'a', '--max-tokens'], /--max-tokens needs a value/],
    [['generate', '--prompt', 'a', '--temperature', '-1'], /--temperature needs a value/],
    [['generate', '--prompt', 'a', '--temperature=-1'], /--temperature must be a number >= 0/],
    [['generate', '--prompt', 'a', '--temperature', 'Infinity'], /--temperature must be/],
    [['generate', '--prompt', 'a', '--top-p', '1.5'], /--top-p must be a number in \[0, 1\]/],
    [['generate', '--prompt', 'a', '--min-p', '1.5'], /--min-p must be a number in \[0, 1\]/],
    [['generate', '--prompt', 'a', '--top-k', '2.5'], /--top-k must be an integer/],
    [['generate', '--prompt', 'a', '--top-k', '99999999999999999999'], /^weft: --top-k must be at most 9007199254740991 \(got "99999999999999999999"\)\n/],
    [['bench', '--batch', '257'], /--batch must be at most 256 \(got "257"\)/],
    [['generate', '--prompt', 'a', '--repetition-penalty', '0'], /--repetition-penalty must be a number > 0/],
    [['generate', '--prompt', 'a', '--seed', '0x10'], /--seed must be an integer/],
    [['generate', '--prompt', 'a', '--stop', ''], /--stop needs a non-empty string/],
    [['generate', '--prompt', 'a', '--prompt', 'b'], /--prompt was given more than once/],
    [['generate', '--prompt', 'a', '--json=yes'], /--json does not take a value/],
    [['generate', '--prompt-ids', '1,,2'], /--prompt-ids must be comma-separated non-negative integers/],
    [['generate', '--prompt-ids', '1,2.5'], /bad entry "2.5"/],
    [['generate', '--prompt-ids=-1'], /--prompt-ids must be/],
    [['generate', '--messages', '{'], /--messages is not valid JSON/],
    [['generate', '--messages', '[{"role":"user"}]'], /--messages must be a non-empty JSON array/],
    [['generate', '--prompt', 'a', 'extra'], /unexpected argument "extra"/],
    // generate takes its prompt in a flag: a bare prompt, or one with unquoted spaces, says where it goes.
    [['generate', 'Once upon a time'], /^weft: unexpected argument "Once upon a time" \(a prompt goes after --prompt\) \(see weft generate --help\)\n$/],
    [['generate', '--prompt', 'Once', 'upon'], /^weft: unexpected argument "upon" \(quote a prompt of several words: --prompt "Once upon a time"\) \(see weft generate --help\)\n$/],
    [['eval', '--model', '.'], /eval needs --text-file/],
    [['eval', '--model', '.', '--text-file', join(tmpdir(), 'weft-no-such-file.txt')], /cannot read --text-file .*weft-no-such-file\.txt: no such file/],
    [['eval', '--text-file', 'x', '--prefill', '0'], /--prefill must be an integer >= 1/],
    [['bench', '--runs', '0'], /--runs must be an integer in \[2, 100000\]/],
    // Bounded, as --batch and --threads are: a huge count ran silently until killed.
    [['bench', '--runs', '100002'], /^weft: --runs must be at most 100000 \(got "100002"\)\n$/],
    [['bench', '--warmup', '99999999'], /^weft: --warmup must be at most 10000 \(got "99999999"\)\n$/],
    [['bench', '--runs', '5'], /--runs must be even, so each loop runs first in half of the pairs \(got 5; use 4 or 6\)/],
    [['bench', '--tokens', '1'], /^weft: --tokens must be an integer >= 2: ms\/token is timed between consecutive tokens \(got "1"\)\n$/],
    [['bench', '--tokens', '0'], /^weft: --tokens must be an integer >= 2: ms\/token is timed between consecutive tokens \(got "0"\)\n$/],
    // Not integers: the message states the real bound and its reason, not Number.MIN_SAFE_INTEGER.
    [['bench', '--tokens', '1e9'], /^weft: --tokens must be an integer >= 2: ms\/token is timed between consecutive tokens \(got "1e9"\)\n$/],
    [['bench', '--tokens', '2.5'], /^weft: --tokens must be an integer >= 2: ms\/token is timed between consecutive tokens \(got "2.5"\)\n$/],
    [['bench', '--runs', '2.5'], /^weft: --runs must be an integer in \[2, 100000\]: the loops run in pairs, each leading half of them \(got "2.5"\)\n$/],
    [['generate', '--prompt', 'a', '--min-tokens', '-1'], /--min-tokens needs a value/],
    [['generate', '--prompt', 'a', '--min-tokens', '1.5'], /^weft: --min-tokens must be an integer >= 0 \(got "1.5"\)\n$/],
    // A batch of conversations (the SDK takes them) is not one conversation: the message says so.
    [['generate', '--messages', '[[{"role":"user","content":"Hi"}],[{"role":"user","content":"Yo"}]]'], /^weft: --messages holds a batch of 2 conversations \(a JSON list of lists\), but weft generate runs one; pass one conversation, .*batches are an SDK feature/],
    [['generate', '--prompt-file='], /--prompt-file needs a file path/],
    [['bench', '--batch', 'two'], /--batch must be an integer in \[1, 256\]/],
    [['bench', '--threads', '-1'], /--threads needs a value/],
    [['demo', '--max-tokens', '1e3'], /--max-tokens must be an integer/],
    // A misspelled flag or command names the one meant.
    [['generate', '--prompt', 'a', '--max-token', '3'], /^weft: unknown option --max-token; did you mean --max-tokens\? \(see weft generate --help\)\n$/],
    [['generate', '--promt', 'a'], /unknown option --promt; did you mean --prompt\?/],
    [['generate', '--prompt', 'a', '--temp=1'], /unknown option --temp; did you mean --temperature\?/],
    [['eval', '--text', 'a.txt'], /unknown option --text; did you mean --text-file\?/],
    [['bench', '--run', '2'], /unknown option --run; did you mean --runs\?/],
    [['generate', '--prompt', 'a', '--zzzzzz'], /^weft: unknown option --zzzzzz \(see weft generate --help\)\n$/],
    [['genrate', '--prompt', 'a'], /^weft: unknown command "genrate"; did you mean generate\? \(see weft --help\)\n$/],
    [['evla'], /unknown command "evla"; did you mean eval\?/],
    [['--verison'], /^weft: unknown option --verison; did you mean --version\? \(see weft --help\)\n$/],
    // --model takes a folder, an http(s):// URL or a file:// URL; another scheme is not a folder name.
    [['generate', '--model', 'ftp://example.com/models/story', '--prompt', 'a'], /^weft: --model ftp:\/\/example\.com\/models\/story: only http\(s\):\/\/ and file:\/\/ URLs can be loaded/],
    [['generate', '--model', 'file://example.com/models/story', '--prompt', 'a'], /^weft: --model file:\/\/example\.com\/models\/story is not a file:\/\/ URL of a local folder/],
  ];
  it.each(cases)('weft %j', async (argv, message) => {
    const result = await cli(argv);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^weft: [^\n]+\n$/);
    expect(result.stderr).toMatch(message);
  });

  it('prints the overview on stderr and exits 2 without a command', async () => {
    const result = await cli([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^Usage: weft <command>/);
  });
});

describe('help', () => {
  it.each([['--help'], ['-h'], ['help']])('weft %s prints the overview and exits 0', async (flag) => {
    const result = await cli([flag]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: weft <command>/);
    expect(result.stdout).toMatch(/generate[\s\S]*eval[\s\S]*bench[\s\S]*demo/);
  });

  it.each(['generate', 'eval', 'bench', 'demo'])('weft %s --help prints its usage and exits 0', async (command) => {
    for (const argv of [[command, '--help'], ['help', command]]) {
      const result = await cli(argv);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^Usage: weft ${command}`));
      expect(result.stderr).toBe('');
    }
  });

  it('states the defaults each command really uses', async () => {
    // bench runs the SDK side on node unless told otherwise (the bare loop is onnxruntime-node).
    expect(parseBenchArgs([]).backend).toBe('node');
    const bench = (await cli(['bench', '--help'])).stdout;
    expect(bench).toMatch(/--backend NAME\s+the SDK side: node \(default/);
    expect(bench).not.toMatch(/auto \(default/);
    expect((await cli(['generate', '--help'])).stdout).toMatch(/--backend NAME\s+auto \(default/);
    // Timed pairs default to an even count that is used as given (no silent rounding).
    expect(parseBenchArgs([])).toMatchObject({ runs: 6, tokens: 64, promptTokens: 32, warmup: 1, threads: 1 });
    expect(parseBenchArgs(['--runs', '8']).runs).toBe(8);
    expect(bench).toMatch(/--runs R .*\(default 6\)/);
    expect(bench).toMatch(/--tokens N .*\(default 64\)/);
  });

  it.each(['generate', 'eval', 'bench', 'demo'])('weft %s --help lines every option description up in one column', async (command) => {
    const lines = (await cli([command, '--help'])).stdout.split('\n');
    const after = lines.slice(lines.indexOf('Options:') + 1);
    const options = after.slice(0, after.findIndex((l) => !l.startsWith(' ')));
    expect(options.length).toBeGreaterThan(2);
    for (const line of options) {
      // An option line: two spaces, the flag (single spaces inside), padding to column 29; a
      // continuation: 29 spaces. Either way the description starts at column 29.
      expect(line.slice(0, 29), line).toMatch(/^(  -\S+(?: \S+)* {2,}| {29})$/);
      expect(line.charAt(29), line).toMatch(/\S/);
    }
  });

  it.each(['', 'generate', 'eval', 'bench', 'demo', 'info'])('weft %s --help keeps every line but the synopsis within the help\'s column', async (command) => {
    const text = (await cli(command === '' ? ['--help'] : [command, '--help'])).stdout;
    const [synopsis, ...lines] = text.split('\n');
    expect(synopsis).toMatch(/^Usage: weft/);
    // Option descriptions run from column 29 to at most column 110; prose wraps before it too.
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(HELP_COLUMN);
  });

  it.each([
    ['generate', GENERATE_OPTIONS],
    ['eval', EVAL_OPTIONS],
    ['bench', BENCH_OPTIONS],
    ['demo', DEMO_OPTIONS],
  ] as const)('weft %s --help lists every flag the command takes', (command, options) => {
    const listed = new Set([...USAGE[command].matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]));
    expect(Object.keys(options).map((o) => `--${o}`).filter((flag) => !listed.has(flag))).toEqual([]);
  });

  it.each(['generate', 'eval', 'bench', 'demo'])('weft --help %s (and -h) prints that command\'s usage', async (command) => {
    for (const flag of ['--help', '-h']) {
      const result = await cli([flag, command]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^Usage: weft ${command}`));
    }
  });

  it('prints the version', async () => {
    const result = await cli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe('strict value parsers', () => {
  it('parses integers and rejects anything else', () => {
    expect(parseInteger('n', '42')).toBe(42);
    for (const bad of ['', ' 4', '4 ', '+4', '-4', '4.0', '4x', '0x4', '1e2', 'NaN', '99999999999999999999']) {
      expect(() => parseInteger('n', bad), bad).toThrow(UsageError);
    }
  });

  it('parses decimals and rejects anything else', () => {
    const any = { ok: () => true, rule: 'anything' };
    expect(parseDecimal('t', '0.5', any)).toBe(0.5);
    expect(parseDecimal('t', '.5', any)).toBe(0.5);
    expect(parseDecimal('t', '2', any)).toBe(2);
    expect(parseDecimal('t', '1e-3', any)).toBe(0.001);
    for (const bad of ['', '-0.5', '0.5.1', 'Infinity', 'NaN', '1e999', '0.5x', ' 1']) {
      expect(() => parseDecimal('t', bad, any), bad).toThrow(UsageError);
    }
  });

  it('parses id lists verbatim', () => {
    expect(parseIdList('1,2,3')).toEqual([1, 2, 3]);
    expect(parseIdList('7')).toEqual([7]);
    expect(parseIdList(' 0, 5 ,9')).toEqual([0, 5, 9]);
    for (const bad of ['', ',', '1,', 'a', '1;2', '-1', '1.5']) expect(() => parseIdList(bad), bad).toThrow(UsageError);
  });

  it('splits documents on blank lines', () => {
    expect(splitDocuments('a\nb\n\nc\r\n\r\nd\n \n\n\ne\n')).toEqual(['a\nb', 'c', 'd', 'e']);
    expect(splitDocuments('\n\n  \n')).toEqual([]);
  });
});

describe('onnxruntime log level of the CLI', () => {
  it('is fatal (weft prints every failure itself), warning with WEFT_DEBUG', () => {
    expect(runtimeLogLevel({})).toBe('fatal');
    expect(runtimeLogLevel({ WEFT_DEBUG: '1' })).toBe('warning');
  });
});
