import * as jinja from '@huggingface/jinja';
import { copyPlainJson, plainJsonBudget } from '../generation/plain-json.js';

/**
 * How much work one chat-template render may do. A template is code that comes with the model
 * files, and @huggingface/jinja runs it without limits: `range(10**9)`, a list that doubles in a
 * loop, a list holding itself many times over that `tojson` then writes out, or a loop over a
 * huge range would hang the process or take it down with an out-of-memory crash that no `catch`
 * can stop. Renders that go over these limits fail instead.
 */
export interface ChatTemplateLimits {
  /**
   * Work units: one per expression or statement evaluated, plus one per 1024 characters or list
   * items of every value produced, plus one per number a `range()` makes.
   */
  readonly steps: number;
  /**
   * Largest value any expression may produce: a string's length in UTF-16 code units, or for a
   * list, dict or namespace its items plus everything in them, counted once per place it appears
   * (a list holding the same list twice counts it twice, as writing it out would).
   */
  readonly chars: number;
  /** Longest list any expression may produce (and the longest `range()`). */
  readonly items: number;
  /** Wall-clock limit of one render, in milliseconds (checked between steps). */
  readonly timeoutMs: number;
}

/** The largest value any render may produce, whatever its input: 16 Mi (about 4 million tokens). */
const MAX_CHARS = 16 * 1024 * 1024;

/** Fewest items a list built or given in a render may hold under {@link chatTemplateLimits}. */
export const MIN_TEMPLATE_ITEMS = 100_000;

/**
 * The limits of a render whose input (messages and special tokens) holds `inputChars` characters
 * in `messages` messages. They grow with the input, so a long conversation renders: real chat
 * templates take 25–85 steps per message (measured on a ChatML template and on one with tools,
 * namespaces and filters) and write about as many characters as they read. Values stay under
 * four times the input (1 Mi at least, 16 Mi at most): a single step of a hostile template builds
 * at most tens of MB for a short conversation (a few hundred for the largest), and the steps stop
 * it within about half a second.
 */
export function chatTemplateLimits(inputChars: number, messages: number): ChatTemplateLimits {
  return {
    steps: 200_000 + 1_000 * messages + Math.ceil(inputChars / 64),
    chars: Math.min(MAX_CHARS, Math.max(1024 * 1024, 4 * inputChars)),
    items: Math.max(MIN_TEMPLATE_ITEMS, 16 * messages),
    timeoutMs: 5_000,
  };
}

/**
 * Limits for rendering a template once at load, to see how it starts (whether it writes the BOS):
 * a real template renders a one-message conversation in a few hundred steps.
 */
export const CHAT_TEMPLATE_PROBE_LIMITS: ChatTemplateLimits = { steps: 20_000, chars: 64 * 1024, items: 10_000, timeoutMs: 200 };

/** A chat template render that went over its {@link ChatTemplateLimits}. */
export class ChatTemplateLimitError extends Error {
  override readonly name = 'ChatTemplateLimitError';
}

/** What a template's own `raise_exception(message)` throws: it refused its input on purpose. */
export class ChatTemplateRaisedError extends Error {
  override readonly name = 'ChatTemplateRaisedError';
}

// @huggingface/jinja's declaration files import './runtime' without an extension, which NodeNext
// resolution does not follow: its Environment and Interpreter are typed here, as far as used.
interface RuntimeValue {
  readonly value: unknown;
}
interface JinjaEnvironment {
  set(name: string, value: unknown): RuntimeValue;
}
interface JinjaInterpreter {
  readonly global: JinjaEnvironment;
  run(program: Program): RuntimeValue;
  evaluate(statement: unknown, environment: JinjaEnvironment): RuntimeValue;
  /** Runs the filter `filterNode` (an identifier, or a call with arguments) on `operand`. */
  applyFilter(operand: RuntimeValue, filterNode: unknown, environment: JinjaEnvironment): RuntimeValue;
  /** A call's positional and keyword arguments, evaluated. */
  evaluateArguments(args: readonly unknown[], environment: JinjaEnvironment): [RuntimeValue[], Map<string, RuntimeValue>];
}
type Program = ReturnType<typeof jinja.parse>;
const Environment = jinja.Environment as unknown as new () => JinjaEnvironment;
const Interpreter = jinja.Interpreter as unknown as new (env: JinjaEnvironment) => JinjaInterpreter;

/**
 * A parsed chat template rendered under {@link ChatTemplateLimits}, with the globals
 * @huggingface/jinja's own `Template` gives (`true`/`false`/`none` in both spellings,
 * `raise_exception`, `range`, `strftime_now`; `namespace` comes with every environment).
 */
export class BoundedChatTemplate {
  private readonly program: Program;

  /** Parses `source` as `Template` does (trim_blocks and lstrip_blocks on); throws on a syntax error. */
  constructor(source: string) {
    this.program = jinja.parse(jinja.tokenize(source, { lstrip_blocks: true, trim_blocks: true }));
  }

  /**
   * Renders with `context` as the template's variables; throws a {@link ChatTemplateLimitError}
   * past `limits`, or when the engine runs out of stack or string length (a RangeError) on the way.
   * `context` is first copied as plain JSON data (see {@link MAX_TEMPLATE_INPUT_VALUES}): a value
   * that is not (a typed array, a cycle, a getter that throws) is an `InvalidOptionsError` naming
   * its path, such as `messages[0].embedding`, thrown before the engine sees it. `limits` may be
   * a function of that copy, so that limits scaled to the input are measured on what is rendered.
   */
  render(context: Readonly<Record<string, unknown>>, limits: ChatTemplateLimits | ((input: Readonly<Record<string, unknown>>) => ChatTemplateLimits)): string {
    const input = plainInput(context);
    try {
      return this.renderUnder(input, typeof limits === 'function' ? limits(input) : limits);
    } catch (error) {
      if (error instanceof RangeError) throw new ChatTemplateLimitError(`the template went over the engine's limits: ${error.message}`);
      throw error;
    }
  }

  private renderUnder(context: Readonly<Record<string, unknown>>, limits: ChatTemplateLimits): string {
    const interpreter = new BoundedInterpreter(new Environment(), limits);
    // The globals @huggingface/jinja's own `Template.render` sets (its `setupGlobals`, which is not
    // exported): keep them in step with the version the package pins.
    const env = interpreter.global;
    for (const [name, value] of CONSTANTS) env.set(name, value);
    env.set('raise_exception', (message: unknown) => {
      throw new ChatTemplateRaisedError(String(message));
    });
    env.set('range', (start: number, stop?: number, step?: number) => interpreter.range(start, stop, step));
    env.set('strftime_now', (format: unknown) => strftime(new Date(), String(format)));
    for (const [name, value] of Object.entries(context)) env.set(name, value);
    const result = interpreter.run(this.program);
    return String(result.value);
  }
}

/**
 * Most values (strings, numbers, list items, dict keys: a string counts once, whatever its length)
 * a render's variables may hold. @huggingface/jinja turns each into an object of its own (about
 * 100 bytes) before the template runs, a typed array's numbers included, so this bounds the memory
 * a render's input takes (about 200 MB). A generation request stays well under it: 65,536 messages
 * of five values each, plus extra fields of at most `MAX_MESSAGE_EXTRAS` (1 Mi).
 */
export const MAX_TEMPLATE_INPUT_VALUES = 2 * 1024 * 1024;

/** `context`'s variables copied as plain JSON data under {@link MAX_TEMPLATE_INPUT_VALUES}. */
function plainInput(context: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const budget = plainJsonBudget(MAX_TEMPLATE_INPUT_VALUES, "the chat template's variables", false);
  const input: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(context)) input[name] = copyPlainJson(value, name, budget);
  return input;
}

const CONSTANTS: readonly (readonly [string, boolean | null])[] = [
  ['false', false], ['true', true], ['none', null], ['False', false], ['True', true], ['None', null],
];

class BoundedInterpreter extends Interpreter {
  private spent = 0;
  private readonly deadline: number;

  constructor(env: JinjaEnvironment, private readonly limits: ChatTemplateLimits) {
    super(env);
    this.deadline = performance.now() + limits.timeoutMs;
  }

  override evaluate(statement: unknown, environment: JinjaEnvironment): RuntimeValue {
    this.charge(1);
    const node = statement as CallNode | undefined;
    // `text.replace(old, new)`: its result is checked before it is made (see `checkReplace`).
    if (node?.type === 'CallExpression' && node.callee?.type === 'MemberExpression' && !node.callee.computed && node.callee.property?.value === 'replace') {
      const receiver = this.evaluate(node.callee.object, environment).value;
      if (typeof receiver === 'string' && node.args) this.checkReplace(receiver, ...this.evaluateArguments(node.args, environment));
    }
    const result = super.evaluate(statement, environment);
    const value: unknown = result.value;
    if (typeof value === 'string') {
      if (value.length > this.limits.chars) this.exceeded(`a string of ${value.length} characters (limit ${this.limits.chars})`);
      this.charge(value.length >>> 10);
    } else if (Array.isArray(value)) {
      if (value.length > this.limits.items) this.exceeded(`a list of ${value.length} items (limit ${this.limits.items})`);
      this.charge(value.length >>> 10);
      this.checkSize(result);
    } else if (value instanceof Map) {
      this.checkSize(result);
    }
    return result;
  }

  /**
   * Refuses a list, dict or namespace larger than `chars` in all (see {@link ChatTemplateLimits.chars}),
   * or nested deeper than {@link MAX_DEPTH}.
   */
  private checkSize(value: RuntimeValue): void {
    const { size, depth } = measure(value);
    if (size > this.limits.chars) this.exceeded(`a value of ${size} characters and items in all (limit ${this.limits.chars})`);
    if (depth > MAX_DEPTH) this.exceeded(`a value nested ${depth} deep (limit ${MAX_DEPTH})`);
  }

  /**
   * The filters whose output grows with an argument times what they write (`tojson`'s `indent`
   * and `separators`, `indent`'s width, `join`'s separator, `replace`'s new text) get those
   * arguments checked before they run: one such step could otherwise fill the memory before its
   * result is seen.
   */
  override applyFilter(operand: RuntimeValue, filterNode: unknown, environment: JinjaEnvironment): RuntimeValue {
    const node = filterNode as CallNode;
    const name = node.type === 'CallExpression' && node.callee?.type === 'Identifier' ? node.callee.value : undefined;
    if (name === 'replace' && typeof operand.value === 'string' && node.args) this.checkReplace(operand.value, ...this.evaluateArguments(node.args, environment));
    if (name === 'join' && node.args) {
      // Each separator is written between two items: a long one multiplies the output in one step.
      const [positional, keywords] = this.evaluateArguments(node.args, environment);
      const separator = (positional[0] ?? keywords.get('separator'))?.value;
      const items = typeof operand.value === 'string' ? operand.value.length : Array.isArray(operand.value) ? operand.value.length : 0;
      const length = measure(operand).size + (typeof separator === 'string' ? separator.length * Math.max(0, items - 1) : 0);
      if (length > this.limits.chars) this.exceeded(`join() making a string of over ${this.limits.chars} characters`);
    }
    if ((name === 'tojson' || name === 'indent') && node.args) {
      const [positional, keywords] = this.evaluateArguments(node.args, environment);
      const width = name === 'tojson' ? keywords.get('indent')?.value : (positional[0] ?? keywords.get('width'))?.value;
      if (typeof width === 'number' && width > MAX_FILTER_WIDTH) this.exceeded(`${name} with a width of ${width} (limit ${MAX_FILTER_WIDTH})`);
      const separators = keywords.get('separators')?.value;
      const separatorChars = Array.isArray(separators) ? (separators as RuntimeValue[]).reduce((n, s) => n + String(s.value).length, 0) : 0;
      if (separatorChars > MAX_FILTER_WIDTH) this.exceeded(`tojson separators of ${separatorChars} characters (limit ${MAX_FILTER_WIDTH})`);
    }
    return super.applyFilter(operand, filterNode, environment);
  }

  /**
   * Refuses `text.replace(old, new[, count])` (method or filter) when the result would be longer
   * than `chars`: replacing "" or a short string with a long one multiplies the text in one step,
   * up to V8's largest string (about 512 MB) before the result could be checked.
   */
  private checkReplace(text: string, positional: readonly RuntimeValue[], keywords: ReadonlyMap<string, RuntimeValue>): void {
    const old = (positional[0] ?? keywords.get('old'))?.value;
    const replacement = (positional[1] ?? keywords.get('new'))?.value;
    const count = (positional[2] ?? keywords.get('count'))?.value;
    if (typeof old !== 'string' || typeof replacement !== 'string') return; // the engine's own error follows
    const length = replacedLength(text, old, replacement, typeof count === 'number' && count >= 0 ? count : Number.POSITIVE_INFINITY, this.limits.chars);
    if (length > this.limits.chars) this.exceeded(`replace() making a string of over ${this.limits.chars} characters`);
  }

  /** Python's `range`, charged one unit per number and refused past `items` numbers. */
  range(start: number, stop?: number, step = 1): number[] {
    if (stop === undefined) [start, stop] = [0, start];
    if (step === 0) throw new Error('range() step must not be zero');
    // NaN arguments make an empty range, as in @huggingface/jinja's own.
    const length = Math.max(0, Math.ceil((stop - start) / step) || 0);
    if (!(length <= this.limits.items)) this.exceeded(`range() of ${length} numbers (limit ${this.limits.items})`);
    this.charge(length);
    const out: number[] = [];
    for (let i = 0; i < length; i++) out.push(start + i * step);
    return out;
  }

  private charge(units: number): void {
    this.spent += units;
    if (this.spent > this.limits.steps) this.exceeded(`more than ${this.limits.steps} steps`);
    // The clock only every 1024 units: reading it costs more than a step.
    if ((this.spent & 1023) < units + 1 && performance.now() > this.deadline) this.exceeded(`more than ${this.limits.timeoutMs} ms`);
  }

  private exceeded(what: string): never {
    throw new ChatTemplateLimitError(`the template went over Weft's rendering limits: ${what}`);
  }
}

/** The parts of a call expression the interpreter looks at (the engine's AST, untyped here). */
interface CallNode {
  readonly type?: unknown;
  readonly callee?: { readonly type?: unknown; readonly value?: unknown; readonly computed?: unknown; readonly object?: unknown; readonly property?: { readonly value?: unknown } };
  readonly args?: readonly unknown[];
}

/**
 * The length of `text` with up to `count` occurrences of `old` replaced by `replacement` (every
 * position when `old` is empty), counting no further once it passes `cap`.
 */
export function replacedLength(text: string, old: string, replacement: string, count: number, cap: number): number {
  const grow = replacement.length - old.length;
  if (grow <= 0) return text.length;
  if (old === '') return text.length + Math.min(text.length + 1, count) * grow;
  let length = text.length;
  for (let n = 0, at = text.indexOf(old); at >= 0 && n < count && length <= cap; n++, at = text.indexOf(old, at + old.length)) length += grow;
  return length;
}

/** Deepest nesting of lists, dicts and namespaces a value may have (messages and tool schemas use about ten). */
const MAX_DEPTH = 128;
/** Largest `indent` width, `tojson` indent and `tojson` separators (real templates use 2 or 4). */
const MAX_FILTER_WIDTH = 64;

/** A value's size written out, and how deeply lists, dicts and namespaces nest in it. */
interface Measure {
  readonly size: number;
  readonly depth: number;
}
const SCALAR: Measure = { size: 1, depth: 0 };

/**
 * Measures of lists and dicts already taken, by their JavaScript array or map. Lists and dicts do
 * not change once made (the engine has no `append`), so each is measured once, from its items'
 * measures; namespaces change (`set ns.x = …`) and are measured each time, from their members'.
 */
const measured = new WeakMap<object, Measure>();

/**
 * A value's size written out (a string's length, 1 for other scalars, and for a list, dict or
 * namespace its items plus their own sizes: a list holding the same list twice counts it twice)
 * and its nesting depth. A namespace that holds itself recurses until the stack runs out: a
 * RangeError, which `render` reports as a limit.
 */
function measure(value: RuntimeValue): Measure {
  const raw = value.value;
  if (typeof raw === 'string') return { size: raw.length, depth: 0 };
  const namespace = (value as { type?: unknown }).type === 'NamespaceValue';
  if (!Array.isArray(raw) && !(raw instanceof Map)) return SCALAR;
  const known = namespace ? undefined : measured.get(raw);
  if (known) return known;
  let size = Array.isArray(raw) ? raw.length : raw.size;
  let depth = 0;
  const add = (item: RuntimeValue): void => {
    const m = measure(item);
    size += m.size;
    if (m.depth > depth) depth = m.depth;
  };
  if (Array.isArray(raw)) for (const item of raw as RuntimeValue[]) add(item);
  else {
    for (const [key, item] of raw as Map<string, RuntimeValue>) {
      size += key.length;
      add(item);
    }
  }
  const result = { size, depth: depth + 1 };
  if (!namespace) measured.set(raw, result);
  return result;
}

const SHORT_MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const LONG_MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/**
 * The `strftime_now` of chat templates (Llama 3.x writes today's date with it): the codes
 * `%Y %m %d %b %B %H %M %%`, others left as they are. Month names are English, as Python's
 * `strftime` writes them in the C locale the templates were written for.
 */
export function strftime(date: Date, format: string): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return format.replace(/%[YmdbBHM%]/g, (code) => {
    switch (code) {
      case '%Y': return String(date.getFullYear());
      case '%m': return pad(date.getMonth() + 1);
      case '%d': return pad(date.getDate());
      case '%b': return SHORT_MONTHS[date.getMonth()]!;
      case '%B': return LONG_MONTHS[date.getMonth()]!;
      case '%H': return pad(date.getHours());
      case '%M': return pad(date.getMinutes());
      default: return '%';
    }
  });
}
