/**
 * `renderRunReport(input)` → one self-contained HTML page for a pipeline run: inline CSS, inline
 * SVG charts, overlays as data: URIs, and a Content-Security-Policy that forbids loading
 * anything (no scripts, no network). It opens from disk and can be served as is.
 *
 * Every number is derived from the per-image errors in the input (stats.ts, on ml/metrics), with
 * SDR(r) = percent of errors strictly below r. The page names the template, protocols, test ids covered, image format and
 * backbone initialisation (docs/method.md#test-sets), and sets the paper's numbers beside the run's, labelled
 * as a different test set unless Test1+Test2 was evaluated.
 */
import { describeBackendRef } from '../backend-ref';
import { escapeHtml as esc } from './html';
import { landmarkNames } from './landmarks';
import { renderOverlay } from './overlay';
import { PAPER_REFERENCE, type ReferenceRow } from './reference';
import {
  allErrors,
  downsample,
  histogram,
  imageMre,
  landmarkErrors,
  sdrCurve,
  splitLabel,
  summarizeErrors,
  withUnionSet,
  type ErrorSummary,
} from './stats';
import { NO_METRICS_REASON, OUTLIER_RADIUS_MM, SDR_RADII_MM, showsOutliers, unitLabel } from '../../ml/metrics';
import { barChart, lineChart, type Marker, type Series } from './svg';
import { parseRunReportInput, type LossLog, type PredictedImage, type Promotion, type RunReportData, type RunReportInput, type SetErrors } from './types';

/** Name and definition of a protocol on an S×S working grid (the paper's S is 384). */
export function protocolText(protocol: 'A' | 'B', gridSize: number): { name: string; description: string } {
  const S = gridSize;
  if (protocol === 'A') {
    return {
      name: `Protocol A (paper, ${S} grid)`,
      description:
        `Prediction = integer cell of the ${S}×${S} working grid; ground truth = int(0.5·(junior+senior)) scaled to the grid and truncated again; ` +
        `error = √((Δy·s·H/${S})² + (Δx·s·W/${S})²) mm with s the pixel spacing and H×W the original size` +
        `${S === 384 ? ' (0.625 and 0.50390625 mm per cell for ISBI)' : ''}. Predictions are never mapped back. This is what the paper’s numbers mean (the paper uses S = 384).`,
    };
  }
  return {
    name: 'Protocol B (clean, full resolution)',
    description: `Prediction mapped back to original pixels (y·H/${S}, x·W/${S}) and compared with the untruncated mean 0.5·(junior+senior), at the pixel spacing s. Avoids the double truncation of protocol A.`,
  };
}

const SET_COLORS: Record<string, string> = { test1: '#1f77b4', test2: '#ff7f0e', 'test1+test2': '#2ca02c' };
const OTHER_COLORS = ['#9467bd', '#8c564b', '#e377c2', '#17becf'];


/** Shown instead of the dataset folder in the HTML report (the JSON report and lineage keep it). */
export const LOCAL_PATH_NOT_SHOWN = '(a folder on the machine that started the run: not shown; the dataset version names the data)';

/**
 * The run config as the shareable HTML report shows it: without the dataset folder's path, which
 * at a hospital names its storage layout (and may hold patient or study names); the dataset
 * version identifies the data instead.
 */
function withoutLocalPaths(config: unknown): unknown {
  const c = structuredClone(config) as { config?: { dataset?: { dir?: unknown } } };
  if (typeof c?.config?.dataset?.dir === 'string') c.config.dataset.dir = LOCAL_PATH_NOT_SHOWN;
  return c;
}

function setColor(split: string, i: number): string {
  return SET_COLORS[split.toLowerCase()] ?? OTHER_COLORS[i % OTHER_COLORS.length]!;
}

const mm = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '–');
/** An SDR, already in percent. */
const pct = (v: number | undefined): string => (v !== undefined && Number.isFinite(v) ? v.toFixed(2) : '–');

/** "151–300" style ranges for numeric ids; ids listed otherwise (capped). */
export function compressIds(ids: readonly string[], maxParts = 12): string {
  if (ids.length === 0) return 'none';
  const numeric = ids.every((i) => /^\d+$/.test(i));
  if (!numeric) return ids.length <= maxParts ? ids.join(', ') : `${ids.slice(0, maxParts).join(', ')}, … (${ids.length} ids)`;
  const sorted = [...ids].sort((a, b) => Number(a) - Number(b));
  const parts: string[] = [];
  let start = sorted[0]!;
  let prev = start;
  for (const id of [...sorted.slice(1), undefined]) {
    if (id !== undefined && Number(id) === Number(prev) + 1) {
      prev = id;
      continue;
    }
    parts.push(start === prev ? start : `${start}–${prev}`);
    if (id !== undefined) {
      start = id;
      prev = id;
    }
  }
  return parts.length <= maxParts ? parts.join(', ') : `${parts.slice(0, maxParts).join(', ')}, … (${ids.length} ids)`;
}

interface SetView {
  split: string;
  label: string;
  set: SetErrors;
  summary: ErrorSummary;
}

function setViews(sets: readonly SetErrors[]): SetView[] {
  return withUnionSet(sets).map((set) => ({ split: set.split.toLowerCase(), label: splitLabel(set.split), set, summary: summarizeErrors(allErrors(set.images)) }));
}

/** The short unit of the report's numbers (mm, or px when some scored image has no pixel spacing). */
const unitOf = (data: RunReportData): string => (data.unit === 'px' ? 'px' : 'mm');

function sdrHeader(radii: readonly number[], unit = 'mm'): string {
  return radii.map((r) => `<th class="num">SDR ${r} ${unit} %</th>`).join('');
}

/** The paper's reference numbers are ISBI 2015 numbers: shown beside ISBI runs only. */
const isIsbi = (data: RunReportData): boolean => data.datasetKind === 'isbi2015';

/** Both protocols × every set of `metrics` (default: the final model's), plus an optional published row. */
function overallTable(data: RunReportData, metrics: RunReportData['metrics'] = data.metrics, reference?: ReferenceRow): string {
  const outliers = showsOutliers(data.unit);
  const rows: string[] = [];
  for (const p of metrics) {
    for (const v of setViews(p.sets)) {
      const s = v.summary;
      rows.push(
        `<tr><td>${esc(protocolText(p.protocol, data.lineage.inputSize).name)}</td><td><b>${esc(v.label)}</b></td><td>${esc(compressIds(v.set.images.map((i) => i.id)))}</td>` +
          `<td class="num">${v.set.images.length}</td><td class="num">${s.count}</td><td class="num"><b>${mm(s.mreMm)}</b></td><td class="num">${mm(s.sdMm)}</td><td class="num">${mm(s.medianMm)}</td>` +
          SDR_RADII_MM.map((r) => `<td class="num">${pct(s.sdr.get(r))}</td>`).join('') +
          `${outliers ? `<td class="num">${pct(s.outlierPercent)}</td>` : ''}</tr>`,
      );
    }
  }
  if (reference) {
    const sameSet = metrics.some((p) => withUnionSet(p.sets).some((st) => st.split.toLowerCase() === reference.splitKey));
    rows.push(
      `<tr><td>Paper: ${esc(reference.method)} (protocol A)</td><td><b>${esc(splitLabel(reference.splitKey))}</b>${sameSet ? '' : ' <span class="tag">different test set</span>'}</td><td>${esc(reference.testSet)}</td>` +
        `<td class="num">–</td><td class="num">–</td><td class="num"><b>${mm(reference.mreMm)}</b></td><td class="num">–</td><td class="num">–</td>` +
        SDR_RADII_MM.map((r) => `<td class="num">${reference.sdrPercent[String(r) as '2']?.toFixed(2) ?? '–'}</td>`).join('') +
        `${outliers ? '<td class="num">–</td>' : ''}</tr>`,
    );
  }
  const u = unitOf(data);
  return `<table class="metrics"><thead><tr><th>Protocol</th><th>Set</th><th>Test IDs covered</th><th class="num">Images</th><th class="num">Errors</th><th class="num">MRE ${esc(unitLabel(data.unit))}</th><th class="num">SD ${u}</th><th class="num">Median ${u}</th>${sdrHeader(SDR_RADII_MM, u)}${outliers ? `<th class="num" title="errors above ${OUTLIER_RADIUS_MM} mm: gross misses">Outliers &gt; ${OUTLIER_RADIUS_MM} mm %</th>` : ''}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The SSL stage alone (CC2D-SSL) beside the final model, with the paper's CC2D-SSL row. */
function sslStageTable(data: RunReportData): string {
  if (!data.sslMetrics) {
    return '<p class="missing">The SSL stage alone was not evaluated in this run (runs finished before it was added: <span class="mono">npx cc2d eval &lt;run id&gt; --compute-ssl</span>).</p>';
  }
  const reference = isIsbi(data) ? PAPER_REFERENCE.find((r) => r.stage === 'ssl') : undefined;
  return `<p class="small">Every test image matched against template ${esc(data.lineage.templateId)} by cascade matching with the SSL embeddings alone (the pseudo-labelling step, docs/method.md#matching), without the TPL stage: the same test images, protocols and statistics as the final model above.</p>
${overallTable(data, data.sslMetrics, reference)}`;
}

function referenceTable(data: RunReportData): string {
  const evaluated = new Set(data.metrics.flatMap((p) => withUnionSet(p.sets).map((s) => s.split.toLowerCase())));
  const sameSet = evaluated.has('test1+test2');
  const note = sameSet
    ? '<p class="ok">This run evaluated Test1+Test2, the paper’s test set: its protocol A row is comparable with these numbers (image format and backbone initialisation still differ, see below).</p>'
    : `<p class="warn"><b>Different test set.</b> The paper’s numbers are on Test1+Test2 (IDs 151–400, 250 images, 4750 errors). This run evaluated ${esc(
        [...evaluated].map(splitLabel).join(', '),
      )} only, so its numbers are not the same quantity; they are shown for orientation, not as a like-for-like comparison.</p>`;
  const rows = PAPER_REFERENCE.map(
    (r) =>
      `<tr><td>${esc(r.method)}</td><td>${esc(r.testSet)}${sameSet ? '' : ' <span class="tag">different test set</span>'}</td><td class="num">${mm(r.mreMm)}</td>` +
      SDR_RADII_MM.map((rad) => `<td class="num">${r.sdrPercent[String(rad) as '2'] !== undefined ? r.sdrPercent[String(rad) as '2']!.toFixed(2) : '–'}</td>`).join('') +
      `<td class="small">${esc(r.source)}</td></tr>`,
  ).join('');
  return `${note}<table class="metrics"><thead><tr><th>Published reference (protocol A)</th><th>Test set</th><th class="num">MRE mm</th>${sdrHeader(SDR_RADII_MM)}<th>Source</th></tr></thead><tbody>${rows}</tbody></table>
<p class="small">The paper used the official BMP images and an ImageNet-initialised VGG19; this run used ${esc(formatLabel(data.lineage.imageFormat))} images and a backbone initialised ${esc(
    data.lineage.backboneInit,
  )}. Both shift results (docs/method.md#trap-jpeg, #trap-init).</p>`;
}

function formatLabel(f: RunReportData['lineage']['imageFormat']): string {
  return { jpeg: 'JPEG (lossy re-encode of the official BMP)', bmp: 'BMP (official release)', png: 'PNG', tiff: 'TIFF', dicom: 'DICOM', mixed: 'mixed-format' }[f];
}

function perLandmarkTables(data: RunReportData, names: string[]): string {
  const out: string[] = [];
  let first = true;
  for (const p of data.metrics) {
    for (const v of setViews(p.sets)) {
      const rows = names
        .map((name, k) => {
          const s = summarizeErrors(landmarkErrors(v.set.images, k));
          return `<tr><td class="num">${k + 1}</td><td>${esc(name)}</td><td class="num">${mm(s.mreMm)}</td><td class="num">${mm(s.sdMm)}</td><td class="num">${mm(s.maxMm)}</td>${SDR_RADII_MM.map((r) => `<td class="num">${pct(s.sdr.get(r))}</td>`).join('')}</tr>`;
        })
        .join('');
      const s = v.summary;
      const total = `<tr class="total"><td></td><td>All landmarks</td><td class="num">${mm(s.mreMm)}</td><td class="num">${mm(s.sdMm)}</td><td class="num">${mm(s.maxMm)}</td>${SDR_RADII_MM.map((r) => `<td class="num">${pct(s.sdr.get(r))}</td>`).join('')}</tr>`;
      out.push(
        `<details${first ? ' open' : ''}><summary>${esc(protocolText(p.protocol, data.lineage.inputSize).name)} · ${esc(v.label)} (${v.set.images.length} images)</summary>` +
          `<table class="metrics landmarks"><thead><tr><th class="num">#</th><th>Landmark</th><th class="num">MRE ${esc(unitLabel(data.unit))}</th><th class="num">SD ${unitOf(data)}</th><th class="num">Max ${unitOf(data)}</th>${sdrHeader(SDR_RADII_MM, unitOf(data))}</tr></thead><tbody>${rows}${total}</tbody></table></details>`,
      );
      first = false;
    }
  }
  return out.join('');
}

function sdrCurveChart(data: RunReportData): string {
  const series: Series[] = [];
  let i = 0;
  for (const p of data.metrics) {
    for (const v of setViews(p.sets)) {
      series.push({
        name: `${v.label} · ${p.protocol}`,
        color: setColor(v.split, i++),
        dash: p.protocol === 'B' ? '6 4' : undefined,
        points: sdrCurve(allErrors(v.set.images), 10, 0.05).map((c) => ({ x: c.r, y: c.sdr })),
      });
    }
  }
  const paper = PAPER_REFERENCE[0]!;
  const markers: Marker[] = isIsbi(data) ? SDR_RADII_MM.map((r) => ({ x: r, y: paper.sdrPercent[String(r) as '2']!, label: `Paper CC2D (Test1+Test2): ${r} mm`, color: '#d62728' })) : [];
  return lineChart({
    title: 'SDR vs radius (share of errors strictly below r)',
    xLabel: `radius r (${unitOf(data)})`,
    yLabel: 'SDR (%)',
    x: [0, 10],
    y: [0, 100],
    series,
    markers,
    vlines: SDR_RADII_MM.map((r) => ({ x: r })),
    xTicks: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    yTicks: [0, 20, 40, 60, 80, 100],
    width: 760,
    height: 340,
  });
}

function lossChart(log: LossLog | undefined, title: string, color: string): string {
  if (!log || log.points.length === 0) return `<div class="missing">${esc(title)}: no loss log was recorded for this run.</div>`;
  const pts = downsample(log.points, 600);
  if (pts.length === 0) return `<div class="missing">${esc(title)}: the loss log holds no finite values.</div>`;
  const xs = pts.map((p) => p.step);
  const ys = pts.map((p) => p.loss);
  const xMax = Math.max(log.totalSteps ?? 0, ...xs, 1);
  let yLo = Math.min(...ys);
  let yHi = Math.max(...ys);
  if (yHi - yLo < 1e-9) {
    yLo -= 0.5;
    yHi += 0.5;
  }
  const padY = (yHi - yLo) * 0.05;
  // Exponential moving average over the (downsampled) points, as a trend line.
  const alpha = Math.min(1, 20 / pts.length);
  let ema = ys[0]!;
  const trend = pts.map((p) => {
    ema = alpha * p.loss + (1 - alpha) * ema;
    return { x: p.step, y: ema };
  });
  const last = log.points.filter((p) => p.loss !== null).at(-1);
  const markers: Marker[] = (log.resumedAtSteps ?? []).map((s) => ({ x: s, y: yLo, label: `resumed from checkpoint: step ${s}`, color: '#9467bd' }));
  const chart = lineChart({
    title,
    xLabel: 'step',
    yLabel: 'loss',
    x: [0, xMax],
    y: [Math.max(yLo - padY, yLo >= 0 ? 0 : -Infinity), yHi + padY],
    series: [
      { name: 'loss', color, points: pts.map((p) => ({ x: p.step, y: p.loss })), width: 1 },
      { name: 'trend (EMA)', color: '#333', points: trend, width: 1.6 },
    ],
    markers,
    width: 460,
    height: 260,
  });
  return `<figure>${chart}<figcaption>${esc(log.points.length)} logged steps${log.totalSteps !== undefined ? ` of ${esc(log.totalSteps)}` : ''}; last loss ${last ? esc(last.loss!.toPrecision(4)) : '–'}${(log.resumedAtSteps ?? []).length > 0 ? `; resumed at step ${esc((log.resumedAtSteps ?? []).join(', '))}` : ''}.</figcaption></figure>`;
}

function pseudoLabelSection(data: RunReportData, names: string[]): string {
  const pl = data.pseudoLabels;
  if (!pl || pl.images.length === 0) {
    return '<p class="missing">No ground truth for the training images was available, so pseudo-label quality was not measured.</p>';
  }
  const images = pl.images.filter((im) => im.id !== data.lineage.templateId);
  const errs = allErrors(images);
  const s = summarizeErrors(errs);
  const h = histogram(errs, 0.5, 15);
  const u = unitOf(data);
  const bars = h.counts.map((count, i) => {
    const x0 = i * h.binMm;
    const overflow = i === h.counts.length - 1;
    return { x0, x1: x0 + h.binMm, count, label: overflow ? `≥ ${h.overflowFromMm} ${u}: ${count}` : `${x0}–${x0 + h.binMm} ${u}: ${count}` };
  });
  const chart = barChart({
    title: `Pseudo-label error distribution (${images.length} training images × ${names.length} landmarks, protocol ${pl.protocol})`,
    xLabel: `radial error (${u}), bins of ${h.binMm} ${u}; last bin = ≥ ${h.overflowFromMm} ${u}`,
    yLabel: 'errors',
    bars,
    vlines: [{ x: Math.min(s.mreMm, h.overflowFromMm), label: `MRE ${mm(s.mreMm)}` }],
  });
  const worst = names
    .map((name, k) => ({ name, k, mre: summarizeErrors(landmarkErrors(images, k)).mreMm }))
    .sort((a, b) => b.mre - a.mre)
    .slice(0, 5)
    .map((w) => `${esc(w.k + 1)} ${esc(w.name)} (${mm(w.mre)} ${u})`)
    .join(', ');
  return `<p>Pseudo-labels are the SSL matcher’s predictions from template ${esc(data.lineage.templateId)} on the training images; they are the targets of the TPL stage. Measured against the ground truth of those images (template excluded): MRE <b>${mm(
    s.mreMm,
  )} ${u}</b> (SD ${mm(s.sdMm)}), SDR ${SDR_RADII_MM.map((r) => `${r} ${u} ${pct(s.sdr.get(r))} %`).join(', ')}.</p>${chart}<p class="small">Worst landmarks: ${worst}.</p>`;
}

async function overlaysSection(data: RunReportData): Promise<string> {
  if (data.overlays.length === 0) return '<p class="missing">No overlay images were supplied.</p>';
  const order = { best: 0, median: 1, worst: 2, sample: 3 } as const;
  const figs: string[] = [];
  for (const o of [...data.overlays].sort((a, b) => order[a.case] - order[b.case])) {
    const r = await renderOverlay(o);
    const scored = o.imageMreMm !== undefined ? ` · image MRE ${mm(o.imageMreMm)} ${unitOf(data)} · protocol ${esc(o.protocol)}` : ' · predicted landmarks (no ground truth shown)';
    figs.push(
      `<figure class="overlay"><img src="${r.dataUri}" width="${r.width}" height="${r.height}" alt="${esc(`${o.case} case: image ${o.id}`)}" data-case="${esc(o.case)}">` +
        `<figcaption><b>${esc(o.case)}</b> · image ${esc(o.id)} (${esc(splitLabel(o.split))})${scored}</figcaption></figure>`,
    );
  }
  const legend = data.overlays.some((o) => o.truthYx.length > 0)
    ? '<span class="sw" style="border-color:#22c55e;border-radius:50%"></span> ground truth (numbered) <span class="x">✕</span> prediction <span class="ln"></span> error'
    : '<span class="x">✕</span> prediction (numbered)';
  return `<p class="legend-row">${legend}</p><div class="overlays">${figs.join('')}</div>`;
}

/** The pseudo-labels the TPL net and the refiner did not train on (profile `tpl.maxRoundTrip`, `refine.maxRoundTrip`); empty without a limit. */
function leftOutLabelsNote(data: RunReportData): string {
  const stages = [
    { name: 'TPL stage', field: 'tpl.maxRoundTrip', l: data.tplLeftOutLabels },
    { name: 'refinement stage', field: 'refine.maxRoundTrip', l: data.refineLeftOutLabels },
  ];
  const notes = stages.flatMap(({ name, field, l }) => {
    if (!l) return [];
    const share = l.of > 0 ? ` (${((100 * l.count) / l.of).toFixed(1)} %)` : '';
    return [`<p class="left-out">The ${name} did not train on <b>${esc(l.count)} of ${esc(l.of)}</b> pseudo-labels${share}: matched back into template ${esc(
      data.lineage.templateId,
    )} with the SSL network, each ended more than ${esc(l.maxRoundTrip)} working-grid cells from the template’s landmark (profile <code>${field}</code>).</p>`];
  });
  const tplOnAll = data.refineLeftOutLabels && !data.tplLeftOutLabels ? '<p class="left-out">The TPL stage trained on every pseudo-label (no <code>tpl.maxRoundTrip</code>).</p>' : '';
  return notes.join('') + tplOnAll;
}

function lineageSection(data: RunReportData): string {
  const l = data.lineage;
  const rows: Array<[string, string]> = [
    ['Run id', l.scheduleId ? `${data.runId} (schedule ${l.scheduleId})` : data.runId],
    ['Site / profile', `${l.site} / ${l.profile}`],
    ['Dataset version', `${l.datasetVersion}${l.datasetReused === undefined ? '' : l.datasetReused ? ' (reused, unchanged content)' : ' (ingested by this run)'}`],
    ['Config hash', l.configHash],
    ['Code version', l.codeVersion],
    ['Backend', describeBackendRef(l.backend)],
    ['Seeds', Object.entries(l.seeds).map(([k, v]) => `${k}=${v}`).join(', ')],
    ['Template id', l.templateId],
    ['Image format', formatLabel(l.imageFormat)],
    ['Backbone initialisation', `${l.backboneInit}${l.backboneWeights ? ` (${l.backboneWeights})` : ''}`],
    ['Protocols', data.metrics.length > 0 ? data.metrics.map((p) => protocolText(p.protocol, data.lineage.inputSize).name).join('; ') : NO_METRICS_REASON],
    ['Working size / pixel spacing', `${l.inputSize}×${l.inputSize} / ${l.pixelSpacingMm === null ? 'per image or unknown' : `${l.pixelSpacingMm} mm`}`],
    ['Training images', `${l.trainIds.length} (${compressIds(l.trainIds)}); labelled: template ${l.templateId} only`],
    ...Object.entries(l.testIdsCovered).map(([k, ids]): [string, string] => [`Test IDs covered: ${splitLabel(k)}`, `${compressIds(ids)} (${ids.length} images)`]),
    ['Requested but not in the dataset', l.missingTestSplits.length > 0 ? l.missingTestSplits.map(splitLabel).join(', ') : 'none'],
    ...(l.reusedFrom && Object.keys(l.reusedFrom).length > 0
      ? [['Reused stages (stage cache)', Object.entries(l.reusedFrom).map(([stage, run]) => `${stage} from ${run}`).join('; ')] as [string, string]]
      : []),
    ...(l.sslContinuedFrom
      ? [['SSL continued from (stage cache)', `${l.sslContinuedFrom.runId} at step ${l.sslContinuedFrom.step}`] as [string, string]]
      : []),
  ];
  const kv = rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('');
  const timings =
    l.timings.length === 0
      ? ''
      : `<h3>Stage timings</h3><table class="metrics"><thead><tr><th>Stage</th><th>Started</th><th class="num">Wall time</th></tr></thead><tbody>${l.timings
          .map((t) => {
            const ms = Date.parse(t.endedAt) - Date.parse(t.startedAt);
            return `<tr><td>${esc(t.stage)}</td><td>${esc(t.startedAt)}</td><td class="num">${Number.isFinite(ms) ? esc(formatDuration(ms)) : '–'}</td></tr>`;
          })
          .join('')}</tbody></table>`;
  const artifacts =
    l.artifacts.length === 0
      ? ''
      : `<h3>Artifacts</h3><table class="metrics artifacts"><thead><tr><th>Artifact</th><th>Key</th><th class="num">Bytes</th><th>sha256</th></tr></thead><tbody>${l.artifacts
          .map((a) => `<tr><td>${esc(a.name)}</td><td class="mono">${esc(a.key)}</td><td class="num">${esc(a.size)}</td><td class="mono">${esc(a.sha256.slice(0, 16))}…</td></tr>`)
          .join('')}</tbody></table>`;
  const config = l.config === undefined ? '' : `<details><summary>Run config and resolved profile</summary><pre>${esc(JSON.stringify(withoutLocalPaths(l.config), null, 2))}</pre></details>`;
  return `<table class="kv">${kv}</table>${timings}${artifacts}${config}`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function headline(data: RunReportData, names: readonly string[]): string {
  if (data.metrics.length === 0) {
    return `<div class="headline"><div><span class="big">No metrics</span><span class="lbl">${esc(NO_METRICS_REASON)}</span></div><div><span class="big">${data.predictions.length}</span><span class="lbl">images predicted</span></div><div><span class="big">${names.length}</span><span class="lbl">landmarks</span></div></div>`;
  }
  const u = unitOf(data);
  const a = data.metrics.find((p) => p.protocol === 'A') ?? data.metrics[0]!;
  const views = setViews(a.sets);
  const main = views.find((v) => v.split === 'test1+test2') ?? views[0]!;
  const s = main.summary;
  return `<div class="headline"><div><span class="big">${mm(s.mreMm)} ${u}</span><span class="lbl">MRE · ${esc(main.label)} · protocol ${esc(a.protocol)}${u === 'px' ? ' · in pixels: no pixel spacing' : ''}</span></div>${SDR_RADII_MM.map(
    (r) => `<div><span class="big">${pct(s.sdr.get(r))} %</span><span class="lbl">SDR &lt; ${r} ${u}</span></div>`,
  ).join('')}<div><span class="big">${main.set.images.length}</span><span class="lbl">test images (IDs ${esc(compressIds(main.set.images.map((i) => i.id)))})</span></div></div>`;
}

const OUTCOME_TEXT: Record<Promotion['outcome'], string> = {
  promoted: 'Promoted: this run is now the site’s champion',
  kept: 'Kept: the site’s champion is unchanged',
  skipped: 'Skipped: not promoted automatically',
};

/** The gate's decision: outcome, reason, and the comparison it rests on (both MREs on the same evaluation images). */
function promotionSection(p: Promotion, unit: string): string {
  const rows: Array<[string, string]> = [
    ['Site', esc(p.site)],
    ['Reason', esc(p.reason)],
    ['Compared with', p.championBefore !== undefined ? `champion <code>${esc(p.championBefore)}</code>` : 'no champion yet (first champion of the site)'],
    ...(p.candidateMre !== undefined ? [['MRE of this run', `${esc(mm(p.candidateMre))} ${esc(unit)}`] as [string, string]] : []),
    ...(p.championMre !== undefined ? [['MRE of the champion', `${esc(mm(p.championMre))} ${esc(unit)}`] as [string, string]] : []),
    ...(p.comparedImages !== undefined
      ? [[p.championBefore !== undefined ? 'Evaluation images compared' : 'Evaluation images scored', `${esc(p.comparedImages)} (protocol A${p.championBefore !== undefined ? ', the ids both runs scored' : ''})`] as [string, string]]
      : []),
    ...(p.decidedAt !== undefined ? [['Decided', esc(p.decidedAt)]] as Array<[string, string]> : []),
  ];
  return `<p class="promotion ${esc(p.outcome)}"><b>${esc(OUTCOME_TEXT[p.outcome])}.</b></p>
<table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
}

const CSS = `
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
header{background:#1f2937;color:#fff;padding:16px 28px}
header h1{margin:0;font-size:20px;font-weight:600}
header .sub{opacity:.8;font-size:13px;margin-top:4px}
main{padding:8px 28px 40px;max-width:1280px}
section{background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:14px 18px;margin:16px 0}
h2{font-size:17px;margin:2px 0 10px}
h3{font-size:15px;margin:16px 0 6px}
table.metrics{border-collapse:collapse;font-size:13px;margin:6px 0;width:auto}
table.metrics th,table.metrics td{border-bottom:1px solid #eceff2;padding:4px 8px;text-align:left;vertical-align:top}
table.metrics thead th{background:#f1f3f5;font-weight:600}
table.metrics tr.total td{font-weight:600;border-top:2px solid #cfd4da}
.num{text-align:right!important;font-variant-numeric:tabular-nums}
table.kv th{text-align:left;padding:3px 14px 3px 0;font-weight:600;white-space:nowrap;vertical-align:top}
table.kv td{padding:3px 0;word-break:break-all}
.mono,pre{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
pre{background:#f6f8fa;padding:10px;border-radius:6px;overflow:auto;max-height:420px}
.headline{display:flex;flex-wrap:wrap;gap:26px}
.headline div{display:flex;flex-direction:column}
.big{font-size:24px;font-weight:700}
.lbl{font-size:12px;color:#5b6470}
.warn{background:#fff7e6;border-left:4px solid #f59e0b;padding:8px 12px;margin:8px 0}
.promotion{padding:8px 12px;margin:8px 0;border-left:4px solid #9ca3af;background:#f3f4f6}
.promotion.promoted{border-left-color:#16a34a;background:#ecfdf5}
.ok{background:#ecfdf3;border-left:4px solid #22c55e;padding:8px 12px;margin:8px 0}
.tag{background:#fde68a;border-radius:4px;padding:0 5px;font-size:11px;white-space:nowrap}
.small{font-size:12px;color:#5b6470}
.missing{color:#6b7280;font-style:italic;padding:8px 0}
.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
figure{margin:0}
figcaption{font-size:12px;color:#4b5563;margin-top:4px;max-width:600px}
svg.chart{max-width:100%;height:auto;font-family:system-ui,"DejaVu Sans",sans-serif}
svg .tick{font-size:10px;fill:#555}
svg .axis{font-size:11px;fill:#333}
svg .legend{font-size:11px;fill:#333}
svg .ctitle{font-size:12px;font-weight:600;fill:#222}
.overlays{display:flex;flex-wrap:wrap;gap:16px}
.overlay img{display:block;max-width:100%;height:auto;border-radius:4px;background:#000}
.legend-row{font-size:12px;color:#374151}
.legend-row .sw{display:inline-block;width:10px;height:10px;border:2px solid;vertical-align:middle;margin:0 4px 0 10px}
.legend-row .x{color:#ef4444;font-weight:700;margin:0 4px 0 14px}
.legend-row .ln{display:inline-block;width:18px;border-top:2px solid #facc15;vertical-align:middle;margin:0 4px 0 14px}
details{margin:6px 0}
summary{cursor:pointer;font-weight:600;padding:3px 0}
nav a{color:#93c5fd;margin-right:14px;font-size:13px;text-decoration:none}
footer{font-size:12px;color:#6b7280;padding:0 28px 30px;max-width:1280px}
`;

/**
 * Renders the report. Validates `input` first (throws naming the bad field); overlays are
 * rendered with sharp, so this is async. The result is one HTML string, typically a few
 * hundred KB (three ≤ 560 px JPEG overlays plus SVG).
 */
export async function renderRunReport(input: RunReportInput): Promise<string> {
  const data = parseRunReportInput(input);
  const k = data.metrics[0]?.sets[0]?.images[0]?.errorsMm.length ?? data.predictions[0]?.xyPx.length ?? data.landmarkNames?.length ?? 0;
  const names = landmarkNames(k, data.landmarkNames);
  const scored = data.metrics.length > 0;
  const overlays = await overlaysSection(data);
  const covered = Object.entries(data.lineage.testIdsCovered)
    .map(([s, ids]) => `${splitLabel(s)} ${compressIds(ids)}`)
    .join('; ');
  const title = `CC2D run report · ${data.runId}`;
  const u = unitOf(data);
  const nav: Array<[string, string]> = [
    ['metrics', 'Metrics'],
    ...(scored ? [['sdr', 'SDR curve'], ['landmarks', 'Per landmark']] as Array<[string, string]> : []),
    ...(data.predictions.length > 0 ? [['predictions', 'Predictions']] as Array<[string, string]> : []),
    ['training', 'Training'], ['pseudo', 'Pseudo-labels'], ['overlays', 'Overlays'],
    ...(data.promotion ? [['promotion', 'Promotion']] as Array<[string, string]> : []),
    ['lineage', 'Config &amp; lineage'],
  ];
  const metricsSection = scored
    ? `<h3>Final model (CC2D: SSL + TPL)</h3>
${overallTable(data)}
<p class="small">MRE = mean radial error over all (image, landmark) errors; SD = population standard deviation; SDR r = share of errors <b>strictly below</b> r ${u}.${
        u === 'px' ? ' Errors are in pixels of the original images: some scored image has no known pixel spacing.' : ''
      } ${data.metrics
        .map((p) => `<br><b>${esc(protocolText(p.protocol, data.lineage.inputSize).name)}:</b> ${esc(protocolText(p.protocol, data.lineage.inputSize).description)}`)
        .join('')}</p>
<h3>SSL stage (cascade matching only)</h3>
${sslStageTable(data)}
${isIsbi(data) ? `<h3>Beside the paper</h3>\n${referenceTable(data)}` : ''}`
    : `<p class="warn"><b>${esc(NO_METRICS_REASON)}.</b> Only the template ${esc(data.lineage.templateId)} is annotated, so nothing could be scored; the predicted landmarks of every image are listed below. Annotate a few more images to get metrics.</p>`;
  const scoredSections = scored
    ? `<section id="sdr"><h2>SDR vs radius</h2>${sdrCurveChart(data)}
<p class="small">Solid lines: protocol A; dashed: protocol B.${
        isIsbi(data) ? ' Red diamonds: the paper’s CC2D SDR at 2, 2.5, 3 and 4 mm on Test1+Test2 (a different test set unless Test1+Test2 is plotted).' : ''
      }</p></section>
<section id="landmarks"><h2>Per landmark</h2>${perLandmarkTables(data, names)}</section>`
    : '';
  const overlayIntro = scored
    ? `Best, median and worst test image by image MRE (${esc(data.overlays.map((o) => `${o.case} ${o.id}: ${mm(o.imageMreMm ?? Number.NaN)} ${u}`).join('; '))}).`
    : `Predicted landmarks on ${data.overlays.length} image${data.overlays.length === 1 ? '' : 's'} (no ground truth to compare with).`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style></head>
<body>
<header><h1>${esc(title)}</h1>
<div class="sub">Produced ${esc(data.createdAt)} · dataset ${esc(data.lineage.datasetVersion)} · template ${esc(data.lineage.templateId)} · ${esc(formatLabel(data.lineage.imageFormat))} · backbone ${esc(
    data.lineage.backboneInit,
  )} · test IDs covered: ${esc(covered || 'none')}</div>
<nav>${nav.map(([id, label]) => `<a href="#${id}">${label}</a>`).join('')}</nav>
</header>
<main>
<section id="summary">${headline(data, names)}</section>
<section id="metrics"><h2>Metrics</h2>
${metricsSection}
</section>
${scoredSections}
${data.predictions.length > 0 ? `<section id="predictions"><h2>Predictions</h2>${predictionsTable(data, names, !scored)}</section>` : ''}
<section id="training"><h2>Training losses</h2><div class="charts">${lossChart(data.losses.ssl, 'Stage I: self-supervised (SSL) loss', '#1f77b4')}${lossChart(
    data.losses.tpl,
    'Stage II: training on pseudo-labels (TPL) loss',
    '#ff7f0e',
  )}${data.losses.refine ? lossChart(data.losses.refine, 'Refinement: full-resolution patches (cross-entropy)', '#2ca02c') : ''}</div></section>
<section id="pseudo"><h2>Pseudo-label quality</h2>${pseudoLabelSection(data, names)}${leftOutLabelsNote(data)}</section>
<section id="overlays"><h2>Predictions on ${scored ? 'test ' : ''}radiographs</h2>
<p class="small">${overlayIntro} Images are shown at the original aspect ratio, downscaled.</p>
${overlays}</section>
${data.promotion ? `<section id="promotion"><h2>Promotion</h2>${promotionSection(data.promotion, u)}</section>` : ''}
<section id="lineage"><h2>Config and lineage</h2>${lineageSection(data)}</section>
</main>
<footer>CC2D: Yao, Quan, Xiao, Zhou, “One-Shot Medical Landmark Detection”, MICCAI 2021 (arXiv 2103.04527).${
    isIsbi(data) ? ' ISBI 2015 cephalometric data: C.-W. Wang et al., Medical Image Analysis 31 (2016); IEEE TMI 34(9) (2015).' : ''
  } This page is self-contained: it loads nothing from the network.</footer>
</body></html>
`;
}

/** Rows of the predictions table at most (a note says how many were left out). */
const MAX_PREDICTION_ROWS = 500;

/** Image × landmark: predicted [x, y] in original pixels, and in mm where the image's spacing is known. */
function predictionsTable(data: RunReportData, names: readonly string[], open: boolean): string {
  const shown = data.predictions.slice(0, MAX_PREDICTION_ROWS);
  const xy = (p: readonly [number, number], scale = 1) => `${(p[0] * scale).toFixed(1)}, ${(p[1] * scale).toFixed(1)}`;
  const cell = (im: PredictedImage, p: readonly [number, number]) =>
    `<td class="num">${xy(p)}${im.spacingMm !== null ? `<br><span class="small">${xy(p, im.spacingMm)} mm</span>` : ''}</td>`;
  const rows = shown
    .map((im) => `<tr><td>${esc(im.id)}${im.id === data.lineage.templateId ? ' <span class="tag">template</span>' : ''}</td><td>${esc(splitLabel(im.split))}</td>${im.xyPx.map((p) => cell(im, p)).join('')}</tr>`)
    .join('');
  const spacings = new Set(data.predictions.map((p) => p.spacingMm === null));
  const note =
    `Predicted landmarks (final model) of ${data.predictions.length} image${data.predictions.length === 1 ? '' : 's'}, as x, y in pixels of the original image` +
    (spacings.has(false) ? '; below, the same in mm where the image’s pixel spacing is known' : '; no pixel spacing is known, so no mm') +
    (data.predictions.length > shown.length ? `; the first ${shown.length} are shown (all are in the run’s predictions file)` : '') +
    '.';
  return `<p class="small">${esc(note)}</p><details${open ? ' open' : ''}><summary>${data.predictions.length} images × ${names.length} landmarks</summary><div style="overflow:auto"><table class="metrics predictions"><thead><tr><th>Image</th><th>Split</th>${names
    .map((n, i) => `<th class="num">${i + 1} ${esc(n)} (x, y px)</th>`)
    .join('')}</tr></thead><tbody>${rows}</tbody></table></div></details>`;
}

/** Image MRE per id for one set (exposed for callers choosing overlays). */
export function imageMres(set: SetErrors): Array<{ id: string; mreMm: number }> {
  return set.images.map((im) => ({ id: im.id, mreMm: imageMre(im) }));
}
