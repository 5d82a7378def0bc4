#!/usr/bin/env node
/**
 * What rendering a chat template under Weft's limits costs: `HfTokenizer.applyChatTemplate`
 * (Weft's bounded interpreter) against @huggingface/jinja's own `Template.render` on the same
 * template and messages, alternated in one process; medians of `--runs` renders each. Two
 * templates: the story model's own, and one that uses namespaces, macros, filters and loops
 * the way tool-calling templates do. Conversations of 2, 20 and 1000 turns of ~200 characters.
 *
 *   npx pnpm@10 build
 *   node packages/cli/bench/chat-template.mjs [--runs 50]
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { HfTokenizer, median } from '@weft/core';
import { commandFlags, repoRoot } from './minimal-loop.mjs';

const flag = commandFlags();
const runs = Number(flag('runs', '50'));
flag.done(import.meta.url);

// @huggingface/jinja is core's dependency, not the CLI's: load it from core's folder.
const { Template } = await import(createRequire(join(repoRoot, 'packages/core/package.json')).resolve('@huggingface/jinja'));
const story = join(repoRoot, 'models/story');
const tokenizerJson = JSON.parse(readFileSync(join(story, 'tokenizer.json'), 'utf8'));
const tokenizerConfig = JSON.parse(readFileSync(join(story, 'tokenizer_config.json'), 'utf8'));

const featureful = `{%- set ns = namespace(system='', first=true) -%}
{%- macro tag(role) -%}[{{ role | upper }}]{%- endmacro -%}
{%- for m in messages -%}
  {%- if m.role == 'system' -%}{%- set ns.system = m.content | trim -%}
  {%- else -%}
    {{- bos_token if ns.first else '' -}}{%- set ns.first = false -%}
    {{- tag(m.role) + (ns.system + '\\n\\n' if loop.first and ns.system else '') + m.content | trim -}}
    {{- '' if loop.last else '\\n' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt %}{{ tag('assistant') }}{% endif -%}`;

const templates = { story: tokenizerConfig.chat_template, featureful };
console.log(`median of ${runs} renders each, alternated; Weft = HfTokenizer.applyChatTemplate (bounded), jinja = Template.render`);
console.log('template     turns    Weft ms   jinja ms   Weft / jinja');
for (const [name, source] of Object.entries(templates)) {
  const tokenizer = new HfTokenizer(tokenizerJson, { ...tokenizerConfig, chat_template: source });
  const template = new Template(source);
  // The special tokens HfTokenizer passes to its renders, for the same output.
  const specials = {};
  for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
    const v = tokenizerConfig[key];
    const text = typeof v === 'string' ? v : v?.content;
    if (typeof text === 'string') specials[key] = text;
  }
  for (const turns of [2, 20, 1000]) {
    const messages = Array.from({ length: turns }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `Turn ${i}: ${'Once upon a time there was a fox. '.repeat(6)}` }));
    const weft = [];
    const jinja = [];
    for (let i = 0; i < runs + 3; i++) {
      let t = performance.now();
      const a = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
      const weftMs = performance.now() - t;
      t = performance.now();
      const b = template.render({ messages, add_generation_prompt: true, ...specials });
      const jinjaMs = performance.now() - t;
      if (i === 0 && a !== b) throw new Error('the two renders differ');
      if (i < 3) continue; // warm-up
      weft.push(weftMs);
      jinja.push(jinjaMs);
    }
    const w = median(weft);
    const j = median(jinja);
    console.log(`${name.padEnd(12)} ${String(turns).padStart(5)} ${w.toFixed(3).padStart(10)} ${j.toFixed(3).padStart(10)} ${(w / j).toFixed(2).padStart(14)}`);
  }
}
