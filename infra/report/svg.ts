/**
 * Tiny inline-SVG charts for the self-contained report: a line chart and a bar histogram.
 * Output is an `<svg>` element string (no xmlns needed inside HTML, no external references);
 * every text passes through `escapeHtml`.
 */
import { escapeHtml } from './html';

export interface Series {
  name: string;
  color: string;
  points: ReadonlyArray<{ x: number; y: number }>;
  dash?: string;
  width?: number;
}

export interface Marker {
  x: number;
  y: number;
  label: string;
  color: string;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  x: [number, number];
  y: [number, number];
  series: Series[];
  markers?: Marker[];
  /** Vertical guide lines (e.g. the SDR radii). */
  vlines?: Array<{ x: number; label?: string }>;
  xTicks?: number[];
  yTicks?: number[];
  yFormat?: (v: number) => string;
  xFormat?: (v: number) => string;
  width?: number;
  height?: number;
}

const PAD = { l: 58, r: 16, t: 28, b: 44 };

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmtDefault(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

export function lineChart(spec: LineChartSpec): string {
  const W = spec.width ?? 640;
  const H = spec.height ?? 300;
  const [x0, x1] = spec.x;
  const [y0, y1] = spec.y;
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const sx = (v: number): number => PAD.l + ((v - x0) / (x1 - x0 || 1)) * iw;
  const sy = (v: number): number => PAD.t + ih - ((v - y0) / (y1 - y0 || 1)) * ih;
  const fx = spec.xFormat ?? fmtDefault;
  const fy = spec.yFormat ?? fmtDefault;
  const parts: string[] = [];
  parts.push(`<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(spec.title)}">`);
  parts.push(`<title>${escapeHtml(spec.title)}</title>`);
  parts.push(`<rect x="${PAD.l}" y="${PAD.t}" width="${iw}" height="${ih}" fill="#fff" stroke="#bbb"/>`);
  for (const t of spec.yTicks ?? niceTicks(y0, y1)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${PAD.l}" x2="${PAD.l + iw}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${PAD.l - 6}" y="${y}" class="tick" text-anchor="end" dominant-baseline="middle">${escapeHtml(fy(t))}</text>`);
  }
  for (const t of spec.xTicks ?? niceTicks(x0, x1, 8)) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${PAD.t}" y2="${PAD.t + ih}" stroke="#f2f2f2"/>`);
    parts.push(`<text x="${x}" y="${PAD.t + ih + 16}" class="tick" text-anchor="middle">${escapeHtml(fx(t))}</text>`);
  }
  for (const v of spec.vlines ?? []) {
    const x = sx(v.x).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${PAD.t}" y2="${PAD.t + ih}" stroke="#999" stroke-dasharray="3 3"/>`);
    if (v.label) parts.push(`<text x="${x}" y="${PAD.t - 4}" class="tick" text-anchor="middle">${escapeHtml(v.label)}</text>`);
  }
  parts.push(`<g>`);
  for (const s of spec.series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`).join('');
    parts.push(
      `<path d="${d}" fill="none" stroke="${escapeHtml(s.color)}" stroke-width="${s.width ?? 1.8}"${s.dash ? ` stroke-dasharray="${escapeHtml(s.dash)}"` : ''}><title>${escapeHtml(s.name)}</title></path>`,
    );
  }
  for (const m of spec.markers ?? []) {
    const cx = sx(m.x).toFixed(1);
    const cy = sy(m.y).toFixed(1);
    parts.push(`<rect x="${(Number(cx) - 4).toFixed(1)}" y="${(Number(cy) - 4).toFixed(1)}" width="8" height="8" fill="none" stroke="${escapeHtml(m.color)}" stroke-width="2" transform="rotate(45 ${cx} ${cy})"><title>${escapeHtml(m.label)}</title></rect>`);
  }
  parts.push(`</g>`);
  parts.push(`<text x="${PAD.l + iw / 2}" y="${H - 6}" class="axis" text-anchor="middle">${escapeHtml(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${PAD.t + ih / 2}) rotate(-90)" class="axis" text-anchor="middle">${escapeHtml(spec.yLabel)}</text>`);
  parts.push(`<text x="${PAD.l}" y="16" class="ctitle">${escapeHtml(spec.title)}</text>`);
  // Legend, top right inside the plot.
  const legend = [...spec.series.map((s) => ({ name: s.name, color: s.color, dash: s.dash, marker: false })), ...uniqueMarkers(spec.markers ?? [])];
  legend.forEach((l, i) => {
    const y = PAD.t + 14 + i * 15;
    const x = PAD.l + iw - 8;
    if (l.marker) {
      parts.push(`<rect x="${x - 22}" y="${y - 4}" width="7" height="7" fill="none" stroke="${escapeHtml(l.color)}" stroke-width="2" transform="rotate(45 ${x - 18.5} ${y - 0.5})"/>`);
    } else {
      parts.push(`<line x1="${x - 30}" x2="${x - 8}" y1="${y}" y2="${y}" stroke="${escapeHtml(l.color)}" stroke-width="2"${l.dash ? ` stroke-dasharray="${escapeHtml(l.dash)}"` : ''}/>`);
    }
    parts.push(`<text x="${x - 34}" y="${y}" class="legend" text-anchor="end" dominant-baseline="middle">${escapeHtml(l.name)}</text>`);
  });
  parts.push(`</svg>`);
  return parts.join('');
}

function uniqueMarkers(markers: Marker[]): Array<{ name: string; color: string; dash?: string; marker: boolean }> {
  const seen = new Map<string, string>();
  for (const m of markers) {
    const key = m.label.split(':')[0]!;
    if (!seen.has(key)) seen.set(key, m.color);
  }
  return [...seen].map(([name, color]) => ({ name, color, marker: true }));
}

export interface BarChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Bars left to right; `label` is the bin's text (tooltip), `x0` its left edge. */
  bars: Array<{ x0: number; x1: number; count: number; label: string }>;
  color?: string;
  vlines?: Array<{ x: number; label?: string }>;
  width?: number;
  height?: number;
}

export function barChart(spec: BarChartSpec): string {
  const W = spec.width ?? 640;
  const H = spec.height ?? 260;
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const xMin = spec.bars[0]?.x0 ?? 0;
  const xMax = spec.bars[spec.bars.length - 1]?.x1 ?? 1;
  const yMax = Math.max(1, ...spec.bars.map((b) => b.count));
  const sx = (v: number): number => PAD.l + ((v - xMin) / (xMax - xMin || 1)) * iw;
  const sy = (v: number): number => PAD.t + ih - (v / yMax) * ih;
  const parts: string[] = [];
  parts.push(`<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(spec.title)}">`);
  parts.push(`<title>${escapeHtml(spec.title)}</title>`);
  parts.push(`<rect x="${PAD.l}" y="${PAD.t}" width="${iw}" height="${ih}" fill="#fff" stroke="#bbb"/>`);
  for (const t of niceTicks(0, yMax, 4)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${PAD.l}" x2="${PAD.l + iw}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${PAD.l - 6}" y="${y}" class="tick" text-anchor="end" dominant-baseline="middle">${escapeHtml(fmtDefault(t))}</text>`);
  }
  for (const t of niceTicks(xMin, xMax, 10)) {
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${PAD.t + ih + 16}" class="tick" text-anchor="middle">${escapeHtml(fmtDefault(t))}</text>`);
  }
  for (const b of spec.bars) {
    if (b.count === 0) continue;
    const x = sx(b.x0) + 0.5;
    const w = Math.max(1, sx(b.x1) - sx(b.x0) - 1);
    const y = sy(b.count);
    parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${(PAD.t + ih - y).toFixed(1)}" fill="${escapeHtml(spec.color ?? '#4c78a8')}"><title>${escapeHtml(b.label)}</title></rect>`);
  }
  for (const v of spec.vlines ?? []) {
    const x = sx(v.x).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${PAD.t}" y2="${PAD.t + ih}" stroke="#d62728" stroke-dasharray="4 3"/>`);
    if (v.label) parts.push(`<text x="${Number(x) + 4}" y="${PAD.t + 12}" class="legend">${escapeHtml(v.label)}</text>`);
  }
  parts.push(`<text x="${PAD.l + iw / 2}" y="${H - 6}" class="axis" text-anchor="middle">${escapeHtml(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${PAD.t + ih / 2}) rotate(-90)" class="axis" text-anchor="middle">${escapeHtml(spec.yLabel)}</text>`);
  parts.push(`<text x="${PAD.l}" y="16" class="ctitle">${escapeHtml(spec.title)}</text>`);
  parts.push(`</svg>`);
  return parts.join('');
}
