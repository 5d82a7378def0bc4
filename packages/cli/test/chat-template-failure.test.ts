import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, storyModel } from './helpers.js';

/** A copy of the project's model whose tokenizer_config.json carries `template`. */
async function withTemplate(root: string, name: string, template: string): Promise<string> {
  const dir = join(root, name);
  await cp(storyModel, dir, { recursive: true });
  const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: template }));
  return dir;
}

describe('a chat template that fails while rendering', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'weft-cli-template-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each([
    ['raises on purpose', '{% if messages[0].role != "system" %}{{ raise_exception("the first message must be a system message") }}{% endif %}{{ messages[0].content }}', /refused these messages: the first message must be a system message\. Change the messages to what it accepts\.$/],
    ['calls an unknown function', '{{ no_such_function() }}', /could not render these messages: .+\. It may use a feature @huggingface\/jinja lacks: pass `prompt` instead\.$/],
    ['uses an unknown filter', '{{ messages | no_such_filter }}', /could not render these messages: .*no_such_filter/],
    ['loops over range(10**12)', '{% for i in range(10**12) %}x{% endfor %}', /could not render these messages: the template went over Weft's rendering limits: range\(\) of 1000000000000 numbers \(limit 100000\)\. The template is broken or hostile/],
    ['doubles a list until memory runs out', '{% set ns = namespace(a=[0]) %}{% for i in range(99) %}{% set ns.a = ns.a + ns.a %}{% endfor %}', /rendering limits: a list of 131072 items/],
  ])('%s: a one-line usage error naming the template, exit code 2', async (name, template, reason) => {
    const dir = await withTemplate(root, name.replace(/ /g, '-'), template);
    const result = await cli(['generate', '--model', dir, '--messages', '[{"role":"user","content":"Hi"}]', '--max-tokens', '2']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^weft: --messages: The model's chat_template \(tokenizer_config\.json\) (could not render|refused) these messages: /);
    expect(lines[0]).toMatch(reason);
  });

  it('names --messages-file, not --messages, when the turns came from a file', async () => {
    const dir = await withTemplate(root, 'refuses-file', '{{ raise_exception("system first") }}');
    const turns = join(root, 'turns.json');
    await writeFile(turns, '[{"role":"user","content":"Hi"}]');
    const result = await cli(['generate', '--model', dir, '--messages-file', turns, '--max-tokens', '2']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("weft: --messages-file: The model's chat_template (tokenizer_config.json) refused these messages: system first. Change the messages to what it accepts.\n");
  });

  it('still renders when the conversation is what the template asks for', async () => {
    const dir = await withTemplate(root, 'accepts', '{% if messages[0].role != "system" %}{{ raise_exception("system first") }}{% endif %}{{ messages[1].content }}');
    const result = await cli(['generate', '--model', dir, '--messages', '[{"role":"system","content":"Be kind."},{"role":"user","content":"Once upon a time"}]', '--max-tokens', '2', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/"type":"done"/);
  });
});
