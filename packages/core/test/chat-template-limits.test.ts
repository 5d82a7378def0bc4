import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { describe, expect, it } from 'vitest';
import { HfTokenizer, InvalidOptionsError } from '../src/index.js';
import {
  BoundedChatTemplate,
  CHAT_TEMPLATE_PROBE_LIMITS,
  ChatTemplateLimitError,
  ChatTemplateRaisedError,
  chatTemplateLimits,
  strftime,
  type ChatTemplateLimits,
} from '../src/tokenizer/bounded-chat-template.js';
import { fixture } from './helpers.js';

/** A tokenizer of the tiny fixture with `template` as its chat template. */
const withTemplate = (template: string): HfTokenizer =>
  new HfTokenizer(JSON.parse(readFileSync(join(fixture('tiny'), 'tokenizer.json'), 'utf8')), {
    ...JSON.parse(readFileSync(join(fixture('tiny'), 'tokenizer_config.json'), 'utf8')),
    chat_template: template,
  });

const chatml =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Features real chat templates use: namespaces, loop variables, filters, slicing, tojson, macros, whitespace control. */
const featureful = `{%- set ns = namespace(system='', first=true) -%}
{%- macro tag(role) -%}[{{ role | upper }}]{%- endmacro -%}
{%- if tools is defined and tools %}<tools>{{ tools | tojson }}</tools>{% endif -%}
{%- for m in messages -%}
  {%- if m.role == 'system' -%}{%- set ns.system = m.content | trim -%}
  {%- else -%}
    {{- bos_token if ns.first else '' -}}{%- set ns.first = false -%}
    {{- tag(m.role) + (ns.system + '\\n\\n' if loop.first and ns.system else '') + m.content | trim -}}
    {%- for w in m.content.split(' ')[:3] %} {{ w | length }}{% endfor -%}
    {{- '' if loop.last else '\\n' -}}
  {%- endif -%}
{%- endfor -%}
{%- for i in range(2, 11, 4) %}<{{ i }}>{% endfor -%}
{%- if add_generation_prompt %}{{ tag('assistant') }}{% endif -%}`;

const conversation = (n: number, size = 40) =>
  Array.from({ length: n }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: ` word ${'x'.repeat(size)} turn ${i} ` }));

const limitsFor = (context: Record<string, unknown>, messages: number): ChatTemplateLimits =>
  chatTemplateLimits(JSON.stringify(context).length, messages);

/** Renders `source` with no messages under `limits` (the defaults for a tiny input unless given). */
function renderHostile(source: string, limits: ChatTemplateLimits = chatTemplateLimits(20, 1)): unknown {
  try {
    new BoundedChatTemplate(source).render({ messages: [] }, limits);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('chat templates render under limits', () => {
  it.each([
    ['ChatML', chatml],
    ['a template with namespaces, macros, filters, tojson and range', featureful],
  ])('%s: the same text as @huggingface/jinja’s own Template', (_name, source) => {
    for (const n of [1, 2, 7, 40]) {
      const context = {
        messages: [{ role: 'system', content: '  Be brief.  ' }, ...conversation(n)],
        tools: [{ name: 'lookup', parameters: { q: 'string' } }],
        add_generation_prompt: true,
        bos_token: '<s>',
      };
      const expected = new Template(source).render(context);
      expect(new BoundedChatTemplate(source).render(context, limitsFor(context, n + 1))).toBe(expected);
    }
  });

  it('renders a long conversation (2,000 messages, 4 MB) well inside its limits', () => {
    const context = { messages: conversation(2000, 2000), add_generation_prompt: true };
    const text = new BoundedChatTemplate(featureful).render(context, limitsFor(context, 2000));
    expect(text).toBe(new Template(featureful).render(context));
    expect(text.length).toBeGreaterThan(4_000_000);
  });

  it('stops range(10**9) before making it', () => {
    const started = performance.now();
    const error = renderHostile('{% for i in range(10**9) %}x{% endfor %}');
    expect(error).toBeInstanceOf(ChatTemplateLimitError);
    expect((error as Error).message).toBe("the template went over Weft's rendering limits: range() of 1000000000 numbers (limit 100000)");
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('stops a list that doubles in a loop at the item limit', () => {
    const error = renderHostile('{% set ns = namespace(a=[1]) %}{% for i in range(64) %}{% set ns.a = ns.a + ns.a %}{% endfor %}{{ ns.a | length }}');
    expect(error).toBeInstanceOf(ChatTemplateLimitError);
    expect((error as Error).message).toMatch(/a list of 131072 items \(limit 100000\)$/);
  });

  it('stops a string that doubles in a loop at the character limit', () => {
    const error = renderHostile('{% set ns = namespace(s="x") %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}');
    expect(error).toBeInstanceOf(ChatTemplateLimitError);
    // The namespace holding it counts the string's characters too, and is refused first.
    expect((error as Error).message).toMatch(/a value of 1048578 characters and items in all \(limit 1048576\)$/);
  });

  it.each([
    ['a list holding one big list twenty times, written with tojson', '{% set l = range(99000) %}{{ [l,l,l,l,l,l,l,l,l,l,l,l,l,l,l,l,l,l,l,l]|tojson(indent=2) }}', /a value of 3960020 characters and items in all \(limit 1048576\)$/],
    ['a list of one big string doubled', '{% set ns = namespace(s="x") %}{% for i in range(19) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{% set ns.l = [ns.s] %}{% for i in range(12) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|tojson }}', /a value of \d+ characters and items in all \(limit 1048576\)$/],
    ['pairs of itself, forty deep', '{% set ns = namespace(a=[1]) %}{% for i in range(40) %}{% set ns.a = [ns.a, ns.a] %}{% endfor %}{{ ns.a }}', /a value of \d+ characters and items in all/],
    ['dicts of itself', '{% set ns = namespace(d={"a": "x"}) %}{% for i in range(40) %}{% set ns.d = {"a": ns.d, "b": ns.d} %}{% endfor %}{{ ns.d|tojson }}', /a value of \d+ characters and items in all/],
    ['a list nested 10,000 deep, written with tojson and an indent', '{% set ns = namespace(a=[1]) %}{% for i in range(10000) %}{% set ns.a = [ns.a] %}{% endfor %}{{ ns.a|tojson(indent=4) }}', /a value nested 129 deep \(limit 128\)$/],
    ['a namespace holding itself', '{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns }}', /the engine's limits: Maximum call stack size exceeded$/],
    ['tojson with a huge indent', '{{ messages|tojson(indent=100000000) }}', /tojson with a width of 100000000 \(limit 64\)$/],
    ['tojson with long separators', '{{ messages|tojson(separators=["' + 'x'.repeat(100) + '", ": "]) }}', /tojson separators of 102 characters \(limit 64\)$/],
    ['indent with a huge width', '{{ "a\nb"|indent(1000000) }}', /indent with a width of 1000000 \(limit 64\)$/],
    ['replace("", long) as a method', '{% set s = "' + 'x'.repeat(2000) + '" %}{{ s.replace("", s) }}', /replace\(\) making a string of over 1048576 characters$/],
    ['replace("x", long) as a filter', '{% set s = "' + 'x'.repeat(2000) + '" %}{{ s|replace("x", s) }}', /replace\(\) making a string of over 1048576 characters$/],
    ['join with a long separator', '{% set s = "' + 'x'.repeat(2000) + '" %}{{ range(1000)|join(s) }}', /join\(\) making a string of over 1048576 characters$/],
  ])('stops in one step what would fill the memory: %s', (_name, source, message) => {
    const error = renderHostile(source);
    expect(error).toBeInstanceOf(ChatTemplateLimitError);
    expect((error as Error).message).toMatch(message);
  });

  it('still renders the same filters with the arguments real templates give them', () => {
    const source = '{{ messages|tojson(indent=4) }}|{{ "a\nb"|indent(2) }}|{{ "a-b"|replace("-", "--") }}|{{ "a-b".replace("-", " + ") }}|{{ ["x", "y"]|join(", ") }}';
    const context = { messages: [{ role: 'user', content: 'Hi' }] };
    expect(new BoundedChatTemplate(source).render(context, chatTemplateLimits(40, 1))).toBe(new Template(source).render(context));
  });

  it('stops nested loops of 10**10 iterations at the step limit', () => {
    const error = renderHostile('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}', { ...chatTemplateLimits(20, 1), steps: 50_000 });
    expect(error).toBeInstanceOf(ChatTemplateLimitError);
    expect((error as Error).message).toMatch(/more than 50000 steps$/);
  });

  it('stops a render past its time limit', () => {
    const error = renderHostile('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}', { ...chatTemplateLimits(20, 1), steps: 1e12, timeoutMs: 30 });
    expect(error).toBeInstanceOf(ChatTemplateLimitError);
    expect((error as Error).message).toMatch(/more than 30 ms$/);
  });

  it('counts what values cost: every 1024 characters of a string an expression makes is one more step', () => {
    const loop = (text: string) => `{% set ns = namespace(s="${text}") %}{% for i in range(200) %}{% set t = ns.s ~ "" %}{% endfor %}`;
    const limits = { ...chatTemplateLimits(20, 1), steps: 10_000 };
    expect(renderHostile(loop('x'), limits)).toBeUndefined();
    expect(renderHostile(loop('x'.repeat(65_536)), limits)).toBeInstanceOf(ChatTemplateLimitError);
  });

  it('ranges as @huggingface/jinja does, negative steps and NaN included', () => {
    const source = '{{ range(4) | join(",") }}|{{ range(5, 0, -2) | join(",") }}|{{ range(1, 1) | length }}|{{ range(3, 1) | length }}';
    expect(new BoundedChatTemplate(source).render({}, chatTemplateLimits(0, 0))).toBe(new Template(source).render({}));
    expect(new BoundedChatTemplate(source).render({}, chatTemplateLimits(0, 0))).toBe('0,1,2,3|5,3,1|0|0');
    expect(renderHostile('{{ range(1, 2, 0) }}')).toMatchObject({ message: 'range() step must not be zero' });
  });

  it('writes strftime_now dates as Python does in the C locale', () => {
    expect(strftime(new Date(2024, 6, 26, 9, 5), '%d %b %Y, %B %m %H:%M 100%%')).toBe('26 Jul 2024, July 07 09:05 100%');
    expect(new BoundedChatTemplate('{{ strftime_now("%d %b %Y") }}').render({}, chatTemplateLimits(0, 0))).toMatch(/^\d\d [A-Z][a-z]{2} \d{4}$/);
  });
});

describe('a tokenizer’s chat template failures are InvalidOptionsErrors that say which kind', () => {
  const user = [{ role: 'user', content: 'Hi' }];

  it('a template that refuses the messages on purpose (raise_exception)', () => {
    const tokenizer = withTemplate('{% if messages[0].role != "system" %}{{ raise_exception("system first") }}{% endif %}ok');
    const error = catchError(() => tokenizer.applyChatTemplate(user));
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error.message).toBe("The model's chat_template (tokenizer_config.json) refused these messages: system first. Change the messages to what it accepts.");
    expect((error as InvalidOptionsError).cause).toBeInstanceOf(ChatTemplateRaisedError);
    expect(tokenizer.applyChatTemplate([{ role: 'system', content: 'S' }, ...user])).toBe('ok');
  });

  it('a hostile template: refused within the limits, the process unharmed', () => {
    const tokenizer = withTemplate('{% set ns = namespace(a=[0]) %}{% for i in range(80) %}{% set ns.a = ns.a + ns.a %}{% endfor %}{{ ns.a | length }}');
    const error = catchError(() => tokenizer.applyChatTemplate(user));
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error.message).toMatch(/^The model's chat_template \(tokenizer_config\.json\) could not render these messages: the template went over Weft's rendering limits: a list of \d+ items \(limit 100000\)\. The template is broken or hostile: fix its chat_template, or pass `prompt` instead\.$/);
  });

  it('a hostile template does not stop the tokenizer from being built (its probe at load is bounded too), only messages requests fail', () => {
    const hostile = '{% set l = range(99000) %}{{ [l,l,l,l,l,l,l,l,l,l,l,l,l,l,l,l,l,l,l,l]|tojson(indent=2000) }}{% for i in range(10**6) %}{% endfor %}';
    const tokenizer = withTemplate(hostile);
    expect(tokenizer.encode('Once upon a time').length).toBeGreaterThan(0);
    expect(() => tokenizer.applyChatTemplate(user)).toThrow(/could not render these messages: the template went over Weft's rendering limits: /);
    expect(CHAT_TEMPLATE_PROBE_LIMITS.steps).toBeLessThan(chatTemplateLimits(0, 1).steps / 10);
  });

  it('macros that call each other: the engine’s own error (a macro does not see the others), no stack overflow', () => {
    const tokenizer = withTemplate('{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}');
    const error = catchError(() => tokenizer.applyChatTemplate(user));
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error.message).toMatch(/could not render these messages: Cannot call something that is not a function: got UndefinedValue\. It may use a feature/);
  });

  it('a feature @huggingface/jinja lacks', () => {
    const error = catchError(() => withTemplate('{{ messages | no_such_filter }}').applyChatTemplate(user));
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error.message).toMatch(/could not render these messages: .*no_such_filter.*\. It may use a feature @huggingface\/jinja lacks: pass `prompt` instead\.$/);
  });
});

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}
