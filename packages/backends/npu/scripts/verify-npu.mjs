#!/usr/bin/env node
// Verifies the npu backend on a machine that has an NPU: prints the detected platform facts, the
// provider chain with the exact onnxruntime options, and the probe; then generates greedily on
// the NPU chain with CPU fallback switched OFF (so a run that silently lands on the CPU cannot
// pass) and on the CPU provider, and compares the token ids and the first step's logits.
//
//   npx tsc -b packages/core packages/backends/web packages/backends/npu
//   node packages/backends/npu/scripts/verify-npu.mjs [--model DIR] [--provider qnn|coreml|nnapi|webnn|openvino|dml]
//        [--backend-path PATH] [--tokens 32] [--prompt "Once upon a time"] [--full-offload] [--json]
//
// --smoke runs the same steps on the CPU provider instead of the NPU chain: it checks the script
// itself on a machine without an NPU and verifies nothing about NPUs (it exits 3).
//
// Exit codes: 0 an NPU provider loaded the model and generated; 2 no NPU provider is usable here
// (the probe's reason says why); 1 anything else (the error is printed).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { npuBackend, NpuBackendAdapter } from '@weft/backend-npu';
import { createWeft, definePlugin } from '@weft/core';

/**
 * The reference: onnxruntime-node's CPU provider through the npu adapter, registered under its
 * own name with a probe that is always available (the npu backend's own probe is, rightly,
 * unavailable when the chain has no NPU provider).
 */
const cpuReference = () =>
  definePlugin({
    name: 'verify-npu-cpu-reference',
    version: '0.0.0',
    apiVersion: '^0.1.0',
    setup(ctx) {
      ctx.register('backend', {
        name: 'cpu-reference',
        create: () => {
          const adapter = new NpuBackendAdapter({ providers: ['cpu'] });
          return { specificationVersion: 'v1', name: 'cpu-reference', probe: async () => ({ available: true }), createSession: (s, o) => adapter.createSession(s, o) };
        },
      });
    },
  });

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    provider: { type: 'string' },
    'backend-path': { type: 'string' },
    tokens: { type: 'string', default: '32' },
    prompt: { type: 'string', default: 'Once upon a time' },
    'full-offload': { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  // Its usage is the comment at the top of this file (the script ships in the package, alone).
  const lines = readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1);
  console.log(lines.slice(0, lines.findIndex((line) => !line.startsWith('//'))).map((line) => line.replace(/^\/\/ ?/, '')).join('\n').trim());
  process.exit(0);
}
const model = values.model ?? (existsSync(`${root}models/story/config.json`) ? `${root}models/story` : `${root}packages/core/test/fixtures/tiny`);
const tokens = Number(values.tokens);
const log = (...args) => values.json || console.log(...args);
const report = { model };

let providers;
if (values.smoke) {
  providers = [{ name: 'cpu' }];
} else if (values.provider) {
  const p = { name: values.provider };
  if (values['backend-path']) p.backendPath = values['backend-path'];
  providers = [p];
}
// fallback: 'none' refuses a chain that names the CPU, so --smoke (the CPU provider alone) keeps the default.
const npuOptions = { ...(providers ? { providers } : {}), fallback: values.smoke ? 'cpu' : 'none', requireFullOffload: values['full-offload'] };

try {
  const adapter = new NpuBackendAdapter(npuOptions);
  report.facts = await adapter.platformFacts();
  report.plan = await adapter.plan();
  report.probe = await adapter.probe();
  log('platform facts:', JSON.stringify(report.facts));
  log('chain (exact onnxruntime executionProviders entries):');
  for (const p of report.plan.chain) log(`  ${p.name} [${p.device}] via ${p.runtime}: ${JSON.stringify(p.ort)}${p.note ? ` (${p.note})` : ''}`);
  for (const s of report.plan.skipped) log(`  skipped ${s.provider}: ${s.reason}`);
  log('probe:', JSON.stringify(report.probe));
  if (values.smoke) log('--smoke: running on the CPU provider; this verifies the script, NOT an NPU');
  else if (!report.probe.available) {
    if (values.json) console.log(JSON.stringify(report, null, 2));
    process.exit(2);
  }

  const events = [];
  const onEvent = (e) => (events.push(e), log(`  event ${e.type}${e.provider ? ` ${e.provider}` : ''}${e.reason ? `: ${e.reason}` : ''}`));
  const onNpu = createWeft({ plugins: [values.smoke ? cpuReference() : npuBackend({ ...npuOptions, onEvent })] });
  const onCpu = createWeft({ plugins: [cpuReference()] });
  const run = async (weft, backend) => {
    const m = await weft.load(model, { backend });
    const firstLogits = [];
    const analyzer = { name: 'first-logits', observe: (o) => void (o.step === 0 && firstLogits.push(Float32Array.from(o.logits[0]))) };
    const started = performance.now();
    const done = await new Promise((resolve, reject) =>
      m.generate({ prompt: values.prompt, maxTokens: tokens, temperature: 0, repetitionPenalty: 1, analyzers: [analyzer] }).subscribe({
        next: (e) => e.type === 'done' && resolve(e),
        error: reject,
      }),
    );
    return { done, firstLogits: firstLogits[0], wallMs: performance.now() - started };
  };
  log(`loading ${model} ${values.smoke ? 'on the CPU provider (smoke)' : 'on the NPU chain (no CPU fallback)'}…`);
  const npu = await run(onNpu, values.smoke ? 'cpu-reference' : 'npu');
  const selected = events.find((e) => e.type === 'provider-selected') ?? { provider: 'cpu', device: 'cpu', rejected: [] };
  const cpu = await run(onCpu, 'cpu-reference');
  await Promise.all([onNpu.dispose(), onCpu.dispose()]);

  const a = npu.done.rows[0].ids;
  const b = cpu.done.rows[0].ids;
  const firstDiff = a.findIndex((id, i) => id !== b[i]);
  let maxDiff = 0;
  for (let i = 0; i < npu.firstLogits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(npu.firstLogits[i] - cpu.firstLogits[i]));
  Object.assign(report, {
    selected: { provider: selected.provider, device: selected.device, rejected: selected.rejected },
    npu: { text: npu.done.rows[0].text, msPerToken: npu.done.msPerToken, ttftMs: npu.done.ttftMs },
    cpu: { text: cpu.done.rows[0].text, msPerToken: cpu.done.msPerToken, ttftMs: cpu.done.ttftMs },
    idsMatch: firstDiff === -1 && a.length === b.length,
    firstDivergence: firstDiff === -1 ? null : firstDiff,
    firstStepMaxAbsLogitDiff: maxDiff,
  });
  log(`selected: ${selected.provider} [${selected.device}]`);
  log(`${values.smoke ? 'CPU (smoke)' : 'NPU'}: ${npu.done.msPerToken.toFixed(2)} ms/token, TTFT ${npu.done.ttftMs.toFixed(1)} ms: ${JSON.stringify(npu.done.rows[0].text)}`);
  log(`CPU: ${cpu.done.msPerToken.toFixed(2)} ms/token, TTFT ${cpu.done.ttftMs.toFixed(1)} ms: ${JSON.stringify(cpu.done.rows[0].text)}`);
  log(`greedy ids ${report.idsMatch ? 'match' : `diverge at token ${firstDiff} (expected with FP16 NPU arithmetic; check the text reads well)`}; first-step max |Δlogit| ${maxDiff.toExponential(2)}`);
  if (values.json) console.log(JSON.stringify(report, null, 2));
  process.exit(values.smoke ? 3 : selected.device === 'npu' ? 0 : 1);
} catch (error) {
  console.error(`verify-npu failed: ${error.message}`);
  if (values.json) console.log(JSON.stringify({ ...report, error: error.message }, null, 2));
  process.exit(1);
}
