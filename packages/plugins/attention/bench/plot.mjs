/**
 * Quality against KV memory as an SVG scatter plot, rendered to PNG in Chromium (playwright-core,
 * /usr/bin/chromium). Used by routers.mjs (`--plot FILE.png`); no measuring happens here.
 */
import { existsSync, writeFileSync } from 'node:fs';

const COLOURS = ['#1b1b1b', '#0072b2', '#e69f00', '#009e73', '#cc79a7', '#d55e00', '#56b4e9', '#8c6d31'];
const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'down', 'cross', 'plus', 'star', 'hexagon'];

/**
 * @param {{ kv: string, router: string, budget?: number, kvBytes: number, perplexity: number }[]} points
 * @param {{ title: string, subtitle: string, reference: number }} labels reference: fp32 + full perplexity
 * @returns {string} an SVG document
 */
export function qualityMemorySvg(points, labels) {
  const W = 1100;
  const H = 700;
  const m = { left: 80, right: 250, top: 70, bottom: 70 };
  const kvs = [...new Set(points.map((p) => p.kv))];
  const routers = [...new Set(points.map((p) => p.router))];
  const xs = points.map((p) => p.kvBytes);
  const ys = points.map((p) => p.perplexity);
  const x0 = Math.log2(Math.min(...xs)) - 0.2;
  const x1 = Math.log2(Math.max(...xs)) + 0.2;
  // Perplexity relative to the reference, in percent; the worst points may be far off, so the
  // axis is linear up to the 95th percentile and points above it are drawn at the top edge.
  const rel = (y) => (100 * (y - labels.reference)) / labels.reference;
  const sorted = ys.map(rel).sort((a, b) => a - b);
  const cap = Math.max(0.5, sorted[Math.floor(0.95 * (sorted.length - 1))] * 1.1);
  const y0 = Math.min(0, sorted[0]) - 0.05 * cap;
  const px = (b) => m.left + ((Math.log2(b) - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (r) => m.top + (1 - (Math.min(r, cap) - y0) / (cap - y0)) * (H - m.top - m.bottom);
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.left}" y="30" font-size="19" font-weight="bold">${esc(labels.title)}</text>`);
  out.push(`<text x="${m.left}" y="52" font-size="13" fill="#444">${esc(labels.subtitle)}</text>`);
  // Grid and axes.
  for (let e = Math.ceil(x0); e <= Math.floor(x1); e++) {
    const x = px(2 ** e);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${H - m.bottom}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${H - m.bottom + 20}" font-size="12" text-anchor="middle">${bytesLabel(2 ** e)}</text>`);
  }
  for (const r of niceTicks(y0, cap)) {
    const y = py(r);
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y}" y2="${y}" stroke="${r === 0 ? '#999' : '#e5e5e5'}"/>`);
    out.push(`<text x="${m.left - 8}" y="${y + 4}" font-size="12" text-anchor="end">${r > 0 ? '+' : ''}${fmt(r)}%</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 22}" font-size="14" text-anchor="middle">KV cache at rest at the end of each story (mean bytes, log scale)</text>`);
  out.push(
    `<text transform="translate(22 ${(m.top + H - m.bottom) / 2}) rotate(-90)" font-size="14" text-anchor="middle">perplexity vs fp32 + full (${labels.reference.toFixed(4)})</text>`,
  );
  // The Pareto frontier: lowest perplexity at or below each memory size.
  const frontier = [...points].sort((a, b) => a.kvBytes - b.kvBytes || a.perplexity - b.perplexity).filter((p, i, all) => all.slice(0, i).every((q) => q.perplexity > p.perplexity));
  out.push(`<polyline fill="none" stroke="#bbb" stroke-width="2" stroke-dasharray="5 4" points="${frontier.map((p) => `${px(p.kvBytes)},${py(rel(p.perplexity))}`).join(' ')}"/>`);
  for (const p of points) {
    const colour = COLOURS[kvs.indexOf(p.kv) % COLOURS.length];
    const shape = SHAPES[routers.indexOf(p.router) % SHAPES.length];
    const r = rel(p.perplexity);
    out.push(marker(shape, px(p.kvBytes), py(r), colour, r > cap));
  }
  // Legends: colour = compressor, shape = router.
  let y = m.top + 8;
  const lx = W - m.right + 24;
  out.push(`<text x="${lx}" y="${y}" font-size="13" font-weight="bold">compressor (colour)</text>`);
  for (const [i, kv] of kvs.entries()) {
    y += 20;
    out.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/><text x="${lx + 20}" y="${y}" font-size="12">${esc(kv)}</text>`);
  }
  y += 34;
  out.push(`<text x="${lx}" y="${y}" font-size="13" font-weight="bold">router (shape)</text>`);
  for (const [i, router] of routers.entries()) {
    y += 20;
    out.push(marker(SHAPES[i % SHAPES.length], lx + 6, y - 4, '#333', false));
    out.push(`<text x="${lx + 20}" y="${y}" font-size="12">${esc(router)}</text>`);
  }
  y += 34;
  out.push(`<line x1="${lx}" x2="${lx + 14}" y1="${y - 4}" y2="${y - 4}" stroke="#bbb" stroke-width="2" stroke-dasharray="5 4"/><text x="${lx + 20}" y="${y}" font-size="12">Pareto frontier</text>`);
  y += 20;
  out.push(`<text x="${lx}" y="${y}" font-size="12">hollow: above the axis (clipped)</text>`);
  out.push('</svg>');
  return out.join('\n');
}

/**
 * Writes `svg` next to `pngPath` (same name, .svg) and renders it to `pngPath` with Chromium.
 * @returns {Promise<boolean>} whether a PNG was written
 */
export async function renderPng(svg, pngPath, executablePath = '/usr/bin/chromium') {
  writeFileSync(pngPath.replace(/\.png$/, '.svg'), svg);
  if (!existsSync(executablePath)) {
    console.error(`plot: ${executablePath} is absent (apt-get install -y chromium); wrote the SVG only.`);
    return false;
  }
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ deviceScaleFactor: 1.5 });
    await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
    await page.locator('svg').screenshot({ path: pngPath });
    return true;
  } finally {
    await browser.close();
  }
}

function marker(shape, x, y, colour, hollow) {
  const s = 5.5;
  const paint = hollow ? `fill="white" stroke="${colour}" stroke-width="1.6"` : `fill="${colour}" fill-opacity="0.85" stroke="${colour}"`;
  const poly = (pts) => `<polygon points="${pts.map(([a, b]) => `${x + a},${y + b}`).join(' ')}" ${paint}/>`;
  switch (shape) {
    case 'circle':
      return `<circle cx="${x}" cy="${y}" r="${s}" ${paint}/>`;
    case 'square':
      return `<rect x="${x - s}" y="${y - s}" width="${2 * s}" height="${2 * s}" ${paint}/>`;
    case 'triangle':
      return poly([[0, -s * 1.2], [s * 1.1, s * 0.8], [-s * 1.1, s * 0.8]]);
    case 'down':
      return poly([[0, s * 1.2], [s * 1.1, -s * 0.8], [-s * 1.1, -s * 0.8]]);
    case 'diamond':
      return poly([[0, -s * 1.3], [s * 1.1, 0], [0, s * 1.3], [-s * 1.1, 0]]);
    case 'star':
      return poly(Array.from({ length: 10 }, (_, i) => {
        const r = i % 2 === 0 ? s * 1.4 : s * 0.6;
        const a = (Math.PI * i) / 5 - Math.PI / 2;
        return [r * Math.cos(a), r * Math.sin(a)];
      }));
    case 'hexagon':
      return poly(Array.from({ length: 6 }, (_, i) => [s * 1.2 * Math.cos((Math.PI * i) / 3), s * 1.2 * Math.sin((Math.PI * i) / 3)]));
    case 'cross':
      return `<path d="M${x - s},${y - s}L${x + s},${y + s}M${x - s},${y + s}L${x + s},${y - s}" stroke="${colour}" stroke-width="2.6"/>`;
    default:
      return `<path d="M${x - s * 1.2},${y}L${x + s * 1.2},${y}M${x},${y - s * 1.2}L${x},${y + s * 1.2}" stroke="${colour}" stroke-width="2.6"/>`;
  }
}

function niceTicks(lo, hi) {
  const span = hi - lo;
  const step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100].find((s) => span / s <= 10) ?? 200;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(Math.round(t / step) * step);
  return ticks;
}

const fmt = (r) => (Math.abs(r) >= 10 ? r.toFixed(0) : Math.abs(r) >= 1 ? r.toFixed(1) : r.toFixed(2));
const bytesLabel = (b) => (b >= 2 ** 20 ? `${b / 2 ** 20} MiB` : `${b / 2 ** 10} KiB`);
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
