import { fixed, round } from '../output/format.js';
import type { BenchReport } from './run-bench.js';

/** The report as a small aligned table, plus the id check and any caveat. */
export function formatBenchTable(r: BenchReport): string {
  const rows: [string, string, string, string][] = [
    ['', 'ms/token', 'TTFT ms', 'tokens/s'],
    ['weft (SDK)', fixed(r.weft.msPerToken, 3), fixed(r.weft.ttftMs, 2), fixed(r.weft.tokensPerSecond, 1)],
    ['bare onnxruntime', fixed(r.bare.msPerToken, 3), fixed(r.bare.ttftMs, 2), fixed(r.bare.tokensPerSecond, 1)],
    ['weft / bare', fixed(r.ratio.msPerToken, 3), fixed(r.ratio.ttftMs, 3), fixed(r.ratio.tokensPerSecond, 3)],
  ];
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((row) => row[c]!.length)));
  const table = rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[0]!) : cell.padStart(widths[c]!))).join('   '));
  return [
    `model ${r.model} (${r.backend}, ${r.threads === 0 ? 'default' : r.threads} intra-op thread${r.threads === 1 ? '' : 's'})`,
    `prompt ${r.promptTokens} tokens, ${r.tokens} new tokens x batch ${r.batch}; medians of ${r.runs} runs each, ` +
      `${r.warmup} warm-up excluded, order A/B, B/A, ...`,
    r.sharedSession
      ? 'both loops ran on one onnxruntime session'
      : 'separate sessions: a run after the other loop starts with cold weights (medians may mix two modes)',
    '',
    ...table,
    '',
    ...added(r),
    `weft setup before the first forward pass: ${fixed(r.weftSetupMs, 3)} ms (median)`,
    `inside onnxruntime's run alone (medians): prefill weft ${fixed(r.insideRun.weft.prefillMs, 3)} / bare ${fixed(r.insideRun.bare.prefillMs, 3)} ms, ` +
      `decode step weft ${fixed(r.insideRun.weft.stepMs, 3)} / bare ${fixed(r.insideRun.bare.stepMs, 3)} ms`,
    `token ids: ${r.idsMatch ? 'identical in every run of both loops' : 'DIFFER between the loops (see warning)'}`,
  ].join('\n');
}

/**
 * The paired differences: what Weft adds when both sides run on onnxruntime-node; otherwise only
 * the difference, with why it is not Weft's cost (the two sides run on different runtimes).
 */
function added(r: BenchReport): string[] {
  const amounts = `${fixed(r.added.ttftMs * 1000, 0)} µs to the first token and ${fixed(r.added.msPerToken * 1000, 1)} µs per token (medians of paired differences)`;
  if (r.sameRuntime) return [`weft adds ${amounts}`];
  return [
    `weft - bare: ${amounts}`,
    `  not what weft adds: the two sides run on different runtimes (weft on the ${r.backend} backend, the bare loop on onnxruntime-node); --backend node measures weft's own cost`,
  ];
}

/** The report as one JSON-ready object (timings rounded to microseconds). */
export function benchJson(r: BenchReport): object {
  const timing = (t: { ttftMs: number; msPerToken: number; tokensPerSecond: number }) => ({
    msPerToken: round(t.msPerToken, 4),
    ttftMs: round(t.ttftMs, 4),
    tokensPerSecond: round(t.tokensPerSecond, 2),
  });
  return {
    model: r.model,
    backend: r.backend,
    threads: r.threads,
    promptTokens: r.promptTokens,
    tokens: r.tokens,
    batch: r.batch,
    runs: r.runs,
    warmup: r.warmup,
    sharedSession: r.sharedSession,
    sameRuntime: r.sameRuntime,
    weft: { ...timing(r.weft), runs: r.weft.runs.map(timing) },
    bare: { ...timing(r.bare), runs: r.bare.runs.map(timing) },
    ratio: { msPerToken: round(r.ratio.msPerToken, 4), ttftMs: round(r.ratio.ttftMs, 4), tokensPerSecond: round(r.ratio.tokensPerSecond, 4) },
    added: { ttftMs: round(r.added.ttftMs, 4), msPerToken: round(r.added.msPerToken, 4) },
    weftSetupMs: round(r.weftSetupMs, 4),
    insideRun: {
      weft: { prefillMs: round(r.insideRun.weft.prefillMs, 4), stepMs: round(r.insideRun.weft.stepMs, 4) },
      bare: { prefillMs: round(r.insideRun.bare.prefillMs, 4), stepMs: round(r.insideRun.bare.stepMs, 4) },
    },
    idsMatch: r.idsMatch,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}
