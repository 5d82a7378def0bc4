import { createWeft, type GenerationEvent, type WeftModel } from '@weft/core';
import { wasmThreadsInUse, webBackend } from '@weft/backend-web';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const promptBox = $<HTMLTextAreaElement>('prompt');
const maxTokens = $<HTMLInputElement>('max-tokens');
const temperature = $<HTMLInputElement>('temperature');
const generate = $<HTMLButtonElement>('generate');
const stop = $<HTMLButtonElement>('stop');
const status = $<HTMLSpanElement>('status');
const output = $<HTMLDivElement>('output');
const stats = $<HTMLParagraphElement>('stats');

// The dev server serves onnxruntime-web's runtime files under /ort/ and the model under /models/story/.
const weft = createWeft({ plugins: [webBackend({ wasmPaths: '/ort/' })] });
let model: WeftModel;
try {
  model = await weft.load(new URL('/models/story/', location.href).href, { backend: 'web' });
} catch (error) {
  // A model or runtime file that is missing or broken: say so, rather than "loading…" forever.
  status.textContent = `error: could not load the model: ${(error as Error).message}`;
  document.body.dataset['state'] = 'error';
  throw error;
}
// Cross-origin isolation allows threads; how many onnxruntime-web uses depends on the cores (1 on 2).
const threads = wasmThreadsInUse() ?? 1;
status.textContent = `ready (${model.backend}, wasm on ${threads} thread${threads === 1 ? '' : 's'})`;
document.body.dataset['state'] = 'ready';
generate.disabled = false;

let controller: AbortController | undefined;

generate.addEventListener('click', () => {
  controller = new AbortController();
  output.textContent = '';
  stats.textContent = '';
  generate.disabled = true;
  stop.disabled = false;
  status.textContent = 'generating…';
  document.body.dataset['state'] = 'generating';
  const started = performance.now();
  let tokens = 0;
  model
    .generate({
      prompt: promptBox.value,
      maxTokens: Number(maxTokens.value),
      temperature: Number(temperature.value),
      signal: controller.signal,
    })
    .subscribe({
      next(event: GenerationEvent) {
        if (event.type === 'token') {
          tokens++;
          output.textContent += event.text;
          const seconds = (performance.now() - started) / 1000;
          stats.textContent = `${tokens} tokens · ${(tokens / seconds).toFixed(1)} tokens/s`;
        } else if (event.type === 'done') {
          output.textContent = event.rows[0]?.text ?? output.textContent;
          document.body.dataset['ids'] = JSON.stringify(event.rows[0]?.ids ?? []);
          document.body.dataset['finish'] = event.finishReason;
          stats.textContent += ` · ${event.msPerToken.toFixed(2)} ms/token · finished: ${event.finishReason}`;
        }
      },
      error(error: unknown) {
        status.textContent = `error: ${(error as Error).message}`;
        document.body.dataset['state'] = 'error';
        generate.disabled = false;
        stop.disabled = true;
      },
      complete() {
        status.textContent = 'done';
        document.body.dataset['state'] = 'done';
        generate.disabled = false;
        stop.disabled = true;
      },
    });
});

stop.addEventListener('click', () => controller?.abort());
