/**
 * The dashboard's compare and site views, rendered on the server without scripts (every run
 * field escaped): two runs side by side with their SDR curves overlaid, and a site's champion
 * with the MRE of its runs over time.
 */
import type { ChampionDocument, ChampionEntry } from '../../contracts/documents';
import type { RunComparison, SdrCurves, SetComparison } from '../compare';
import { escapeHtml as esc } from '../report/html';
import { sdrByRadius, splitLabel } from '../report/stats';
import { lineChart, type Marker, type Series } from '../report/svg';
import { CSS, utcText } from './page';
import type { RunRow } from './sources';

const EXTRA_CSS = `
section{margin:0 0 22px}
h2{font-size:16px;margin:18px 0 8px}
td.better{color:#166534}td.worse{color:#991b1b}
.chart .tick,.chart .legend{font-size:11px;fill:#4b5563}.chart .axis{font-size:12px;fill:#374151}.chart .ctitle{font-size:13px;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts svg{background:#fff;border:1px solid #e3e6ea}
details{margin:6px 0}
`;

function page(title: string, sub: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}${EXTRA_CSS}</style></head>
<body><header><h1>${esc(title)}</h1><span class="sub">${sub} · read-only · <a href="/" style="color:#fff">all runs</a></span></header>
<main>${body}</main></body></html>
`;
}

const reportLink = (runId: string): string => `<a href="/runs/${esc(encodeURIComponent(runId))}/report">${esc(runId)}</a>`;
const fmt = (v: number | null, digits: number): string => (v === null ? '–' : v.toFixed(digits));
const compareHref = (a: string, b: string): string => `/compare?a=${encodeURIComponent(a)}&amp;b=${encodeURIComponent(b)}`;

/** A delta cell, green when b is better (lower error, higher SDR). */
function deltaCell(delta: number | null, digits: number, higherIsBetter: boolean): string {
  if (delta === null) return '<td class="num">–</td>';
  const cls = delta === 0 ? '' : (delta > 0) === higherIsBetter ? ' better' : ' worse';
  return `<td class="num${cls}">${signedText(delta, digits)}</td>`;
}

/** "+0.123", "−0.123" or "0.000": a delta with its sign. */
function signedText(delta: number, digits: number): string {
  return `${delta > 0 ? '+' : delta < 0 ? '−' : ''}${Math.abs(delta).toFixed(digits)}`;
}

function pairCells(p: { a: number | null; b: number | null; delta: number | null }, digits: number, higherIsBetter = false): string {
  return `<td class="num">${fmt(p.a, digits)}</td><td class="num">${fmt(p.b, digits)}</td>${deltaCell(p.delta, digits, higherIsBetter)}`;
}

const stageName = (s: SetComparison['stage']): string => (s === 'final' ? 'final (TPL)' : 'SSL stage');

function metricsTable(c: RunComparison): string {
  if (c.sets.length === 0) return '<p class="muted">Neither run has metrics.</p>';
  const radii = sdrByRadius(c.sets[0]!.sdr).map(([r]) => r);
  const head = `<tr><th rowspan="2">Stage</th><th rowspan="2">Protocol</th><th rowspan="2">Set</th><th rowspan="2" class="num">n A/B</th><th colspan="3">MRE</th><th colspan="3">SD</th>${radii.map((r) => `<th colspan="3">SDR &lt; ${esc(r)}</th>`).join('')}</tr>
<tr>${['MRE', 'SD', ...radii].map(() => '<th class="num">A</th><th class="num">B</th><th class="num">Δ</th>').join('')}</tr>`;
  const rows = c.sets.map((s) => `<tr><td>${esc(stageName(s.stage))}</td><td>${esc(s.protocol)}</td><td>${esc(splitLabel(s.split))}</td><td class="num">${fmt(s.images.a, 0)}/${fmt(s.images.b, 0)}</td>${pairCells(s.mre, 3)}${pairCells(s.sd, 3)}${radii.map((r) => pairCells(s.sdr[r]!, 1, true)).join('')}</tr>`);
  // Runs that scored different images: the like-for-like MRE, as the promotion gate compares them.
  const common = c.sets.filter((s) => s.common).map((s) => `<li>${esc(stageName(s.stage))}, protocol ${esc(s.protocol)}, ${esc(splitLabel(s.split))}: on the ${s.common!.images} image(s) both scored, MRE ${fmt(s.common!.mre.a, 3)} → ${fmt(s.common!.mre.b, 3)}${s.common!.mre.delta !== null ? ` (${signedText(s.common!.mre.delta, 3)})` : ''}</li>`);
  return `<table class="metrics"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>${common.length > 0 ? `<ul class="common">${common.join('')}</ul>` : ''}`;
}

function landmarkTables(c: RunComparison): string {
  return c.sets
    .filter((s) => s.landmarks.length > 0)
    .map((s, i) => {
      const rows = s.landmarks.map((l, k) => `<tr><td class="num">${k + 1}</td><td>${esc(l.name)}</td>${pairCells(l, 3)}</tr>`).join('');
      const open = i === 0 ? ' open' : '';
      return `<details${open}><summary>MRE per landmark: ${esc(stageName(s.stage))}, protocol ${esc(s.protocol)}, ${esc(splitLabel(s.split))}</summary><table class="metrics"><thead><tr><th class="num">#</th><th>Landmark</th><th class="num">A</th><th class="num">B</th><th class="num">Δ</th></tr></thead><tbody>${rows}</tbody></table></details>`;
    })
    .join('');
}

const CURVE_STYLE = { a: '#1f77b4', b: '#ff7f0e' } as const;

/** One chart per protocol and set: both runs' curves, final model solid and SSL stage dashed. */
function curveCharts(c: RunComparison): string {
  const groups = new Map<string, SdrCurves[]>();
  for (const k of c.curves) {
    const key = `${k.protocol}\u0000${k.split}`;
    groups.set(key, [...(groups.get(key) ?? []), k]);
  }
  const unit = c.a.unit === c.b.unit ? c.a.unit : `${c.a.unit}/${c.b.unit}`;
  const charts = [...groups.values()].map((curves) => {
    const series: Series[] = [];
    for (const k of curves) {
      for (const side of ['a', 'b'] as const) {
        const ys = k[side];
        if (!ys) continue;
        series.push({
          name: `${side.toUpperCase()} ${k.stage === 'final' ? 'final' : 'SSL stage'}`,
          color: CURVE_STYLE[side],
          ...(k.stage === 'ssl' ? { dash: '5 4' } : {}),
          points: k.radii.map((x, i) => ({ x, y: ys[i]! })),
        });
      }
    }
    return lineChart({
      title: `SDR vs radius, protocol ${curves[0]!.protocol}, ${splitLabel(curves[0]!.split)}`,
      xLabel: `radius r (${unit})`, yLabel: 'SDR (%)', x: [0, 10], y: [0, 100], series,
      xTicks: [0, 2, 4, 6, 8, 10], yTicks: [0, 20, 40, 60, 80, 100], width: 520, height: 300,
    });
  });
  return charts.length > 0 ? `<div class="charts">${charts.join('')}</div>` : '<p class="muted">No SDR curves: neither run has metrics.</p>';
}

export function renderComparePage(c: RunComparison): string {
  const runRow = (tag: string, h: RunComparison['a']) =>
    `<tr><td><b>${tag}</b></td><td class="mono">${reportLink(h.runId)}</td><td>${esc(h.site ?? '–')}</td><td>${esc(h.profile ?? '–')}</td><td class="mono small" title="${esc(h.datasetVersion)}">${esc(h.datasetVersion.slice(0, 12))}</td><td class="num">${h.noMetrics ? '<span class="muted">no metrics</span>' : `${fmt(h.headlineMre, 3)} ${esc(h.unit)}`}</td><td class="small">${esc(h.createdAt ?? '')}</td></tr>`;
  const changes = c.configChanges.length === 0
    ? '<p>Identical config, resolved profile, dataset version and code version.</p>'
    : `<table><thead><tr><th>Field</th><th>A</th><th>B</th></tr></thead><tbody>${c.configChanges
        .map((x) => `<tr><td class="mono">${esc(x.path)}</td><td class="mono small">${x.a === undefined ? '<span class="muted">absent</span>' : esc(JSON.stringify(x.a))}</td><td class="mono small">${x.b === undefined ? '<span class="muted">absent</span>' : esc(JSON.stringify(x.b))}</td></tr>`)
        .join('')}</tbody></table>`;
  const notes = c.notes.map((n) => `<div id="error" style="display:block">${esc(n)}</div>`).join('');
  const body = `${notes}
<section><table><thead><tr><th></th><th>Run</th><th>Site</th><th>Profile</th><th>Dataset</th><th class="num">MRE (A, headline)</th><th>Report created</th></tr></thead><tbody>${runRow('A', c.a)}${runRow('B', c.b)}</tbody></table>
<p class="small">Deltas are B − A; green where B is better. <a href="${compareHref(c.b.runId, c.a.runId)}">swap</a></p></section>
<section><h2>Config (${c.configChanges.length} field${c.configChanges.length === 1 ? '' : 's'} differ)</h2>${changes}</section>
<section><h2>Metrics</h2>${metricsTable(c)}</section>
<section><h2>SDR curves</h2>${curveCharts(c)}</section>
<section><h2>Per landmark</h2>${landmarkTables(c)}</section>`;
  return page('cc2d compare', `${esc(c.a.runId)} vs ${esc(c.b.runId)}`, body);
}

/** Completed runs of the site with a headline MRE in mm, oldest first (what the chart plots). */
function mreSeries(rows: readonly RunRow[]): RunRow[] {
  return rows
    .filter((r) => r.status === 'completed' && r.mreMm !== undefined && Number.isFinite(r.mreMm) && r.mreUnit !== 'px')
    .sort((x, y) => ((x.closeTime ?? x.startTime) < (y.closeTime ?? y.startTime) ? -1 : 1));
}

function mreChart(rows: readonly RunRow[], champion: string | undefined): string {
  const pts = mreSeries(rows);
  if (pts.length === 0) return '<p class="muted">No completed run of this site has an MRE in mm yet.</p>';
  const t = (r: RunRow): number => Date.parse(r.closeTime ?? r.startTime);
  const t0 = t(pts[0]!);
  const days = (r: RunRow): number => (t(r) - t0) / 86_400_000;
  const span = Math.max(days(pts.at(-1)!), 1 / 24);
  const yMax = Math.max(...pts.map((r) => r.mreMm!)) * 1.15;
  const markers: Marker[] = pts.filter((r) => r.runId === champion).map((r) => ({ x: days(r), y: r.mreMm!, label: `champion: ${r.runId}`, color: '#d62728' }));
  return lineChart({
    title: 'Headline MRE (protocol A) of the site\'s completed runs',
    xLabel: `days since ${pts[0]!.closeTime ?? pts[0]!.startTime}`, yLabel: 'MRE (mm)',
    x: [0, span], y: [0, yMax],
    series: [{ name: 'MRE', color: '#1f77b4', points: pts.map((r) => ({ x: days(r), y: r.mreMm! })) }],
    markers, width: 760, height: 300,
  });
}

/** "since <time> · by gate: <reason>" of a champion entry. */
function entryText(e: ChampionEntry): string {
  return `since ${esc(utcText(e.since))} · ${esc(e.by)}: ${esc(e.reason)}`;
}

export function renderSitePage(site: string, rows: readonly RunRow[], document: ChampionDocument | undefined): string {
  const champion = document?.champion.runId;
  const completed = mreSeries(rows);
  const previous = new Map(completed.map((r, i) => [r.runId, completed[i - 1]?.runId]));
  const championRow = rows.find((r) => r.runId === champion);
  const rolledBack = [...(document?.rolledBack ?? [])].reverse().map((e) => `<li><span class="mono">${esc(e.runId)}</span> ${entryText(e)} · until ${esc(utcText(e.until))}</li>`);
  const champ = document && champion
    ? `<p>Champion: <span class="mono">${reportLink(champion)}</span>${championRow?.mreMm !== undefined ? ` · MRE ${esc(championRow.mreMm.toFixed(3))} ${esc(championRow.mreUnit ?? 'mm')}` : ''} <span class="small">(${entryText(document.champion)})</span></p>${rolledBack.length > 0 ? `<p class="small">Rolled back:</p><ul class="small">${rolledBack.join('')}</ul>` : ''}`
    : '<p class="muted">No champion for this site yet.</p>';
  const tr = rows.map((r) => {
    const prev = previous.get(r.runId);
    const links = r.status === 'completed'
      ? [champion && champion !== r.runId ? `<a href="${compareHref(champion, r.runId)}">vs champion</a>` : '', prev ? `<a href="${compareHref(prev, r.runId)}">vs previous</a>` : ''].filter(Boolean).join(' · ')
      : '';
    return `<tr><td class="mono">${r.status === 'completed' ? reportLink(r.runId) : esc(r.runId)}${r.runId === champion ? ' <b>(champion)</b>' : ''}</td><td><span class="status status-${esc(r.status)}">${esc(r.status)}</span></td><td>${esc(r.profile ?? '–')}</td><td class="num">${r.mreMm === undefined ? '–' : `${esc(r.mreMm.toFixed(3))} ${esc(r.mreUnit ?? 'mm')}`}</td><td class="small nowrap">${esc(utcText(r.closeTime ?? r.startTime))}</td><td class="small">${links || '<span class="muted">–</span>'}</td></tr>`;
  });
  const body = `<section>${champ}</section>
<section><h2>MRE over time</h2><div class="charts">${mreChart(rows, champion)}</div></section>
<section><h2>Runs (${rows.length})</h2>${rows.length === 0 ? '<p class="muted">No runs of this site.</p>' : `<table><thead><tr><th>Run</th><th>Status</th><th>Profile</th><th class="num">MRE (A)</th><th>Finished / started (UTC)</th><th>Compare</th></tr></thead><tbody>${tr.join('')}</tbody></table>`}</section>`;
  return page(`cc2d site ${site}`, `site ${esc(site)}`, body);
}
