import * as jinja from '@huggingface/jinja';

/**
 * How much work one chat-template render may do. A template is code that comes with the model
 * files, and @huggingface/jinja runs it without limits: `range(10**9)`, a list that doubles in a
 * loop or a loop over a huge range would hang the process or take it down with an out-of-memory
 * crash that no `catch` can stop. Renders that go over these limits fail instead.
 */
export interface ChatTemplateLimits {
  /**
   * Work units: one per expression or statement evaluated, plus one per 1024 characters or list
   * items of every value produced, plus one per number a `range()` makes.
   */
  readonly steps: number;
  /** Longest string any expression may produce, in UTF-16 code units. */
  readonly chars: number;
  /** Longest list any expression may produce (and the longest `range()`). */
  readonly items: number;
  /** Wall-clock limit of one render, in milliseconds (a backstop for work the units miss). */
  readonly timeoutMs: number;
}

/**
 * The limits of a render whose input (messages and special tokens) holds `inputChars` characters
 * in `messages` messages. They grow with the input, so a long conversation renders: real chat
 * templates take 25–85 steps per message (measured on a ChatML template and on one with tools,
 * namespaces and filters) and write about as many characters as they read. A hostile template
 * stops within 200,000 steps, about half a second.
 */
export function chatTemplateLimits(inputChars: number, messages: number): ChatTemplateLimits {
  return {
    steps: 200_000 + 1_000 * messages + Math.ceil(inputChars / 64),
    chars: Math.max(4 * 1024 * 1024, 16 * inputChars),
    items: Math.max(100_000, 16 * messages),
    timeoutMs: 5_000,
  };
}

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

  /** Renders with `context` as the template's variables; throws a {@link ChatTemplateLimitError} past `limits`. */
  render(context: Readonly<Record<string, unknown>>, limits: ChatTemplateLimits): string {
    const interpreter = new BoundedInterpreter(new Environment(), limits);
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
    const result = super.evaluate(statement, environment);
    const value: unknown = result.value;
    if (typeof value === 'string') {
      if (value.length > this.limits.chars) this.exceeded(`a string of ${value.length} characters (limit ${this.limits.chars})`);
      this.charge(value.length >>> 10);
    } else if (Array.isArray(value)) {
      if (value.length > this.limits.items) this.exceeded(`a list of ${value.length} items (limit ${this.limits.items})`);
      this.charge(value.length >>> 10);
    }
    return result;
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
