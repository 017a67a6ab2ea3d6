/** Human-readable output of run results (the --json forms print the objects as they are). */
import type { PipelineResult } from '../contracts/types';
import { NO_METRICS_REASON, OUTLIER_RADIUS_MM, showsOutliers, type ErrorUnit } from '../ml/metrics';
import { sdrByRadius } from '../infra/report/stats';

/** One line per protocol × set of a stage's metrics (MRE ± SD and the SDRs), in `unit`. */
export function formatStageMetrics(label: string, metrics: PipelineResult['metrics'], unit: ErrorUnit = 'mm'): string[] {
  const lines: string[] = [];
  for (const [protocol, sets] of Object.entries(metrics)) {
    for (const [set, m] of Object.entries(sets)) {
      const sdr = sdrByRadius(m.sdr).map(([k, v]) => `SDR<${k}${unit} ${v.toFixed(1)}%`).join('  ');
      // Summaries stored before outliers existed have none.
      const outliers = showsOutliers(unit) && m.outlierPercent !== undefined ? `  >${OUTLIER_RADIUS_MM}mm ${m.outlierPercent.toFixed(1)}%` : '';
      lines.push(`  ${label.padEnd(11)} protocol ${protocol} ${set.padEnd(12)} n=${String(m.images).padEnd(4)} MRE ${m.mreMm.toFixed(3)} ± ${m.sdMm.toFixed(3)} ${unit}  ${sdr}${outliers}`);
    }
  }
  return lines;
}

/** "1 image", "3 images": a count and its noun (regular plural). */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * The command that starts a worker for `role` on `queue`: its default queue needs no flag, and a
 * GPU worker gets --allow-cpu (without it a machine with no GPU refuses; with a GPU it is unused).
 */
export function workerCommand(role: 'gpu' | 'cpu', queue: string, defaultQueue: string): string {
  return `npx cc2d worker --queues ${role}${role === 'gpu' ? ' --allow-cpu' : ''}${queue !== defaultQueue ? ` --${role}-queue ${shellArg(queue)}` : ''}`;
}

/** A word for a suggested shell command: as it is when the shell leaves it alone, else single-quoted. */
export function shellArg(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** "2.345 mm", "12.3 px (no pixel spacing)" or "–" (no metrics). */
export function formatMre(mre: number | null | undefined, unit: ErrorUnit | null | undefined, digits = 3): string {
  if (mre === undefined || mre === null || !Number.isFinite(mre)) return '–';
  return unit === 'px' ? `${mre.toFixed(digits)} px (no pixel spacing)` : `${mre.toFixed(digits)} mm`;
}

export function formatResult(r: PipelineResult): string {
  const unit = r.unit ?? 'mm';
  const lines =
    r.mreMm === undefined
      ? [`run ${r.runId} completed; ${r.noMetrics ?? NO_METRICS_REASON} (predictions for every image are in the report)`]
      : [`run ${r.runId} completed; headline MRE ${formatMre(r.mreMm, unit)} (${r.headlineSet ?? '?'}, protocol A)`];
  lines.push(...formatStageMetrics('final (TPL)', r.metrics, unit));
  if (r.sslMetrics) lines.push(...formatStageMetrics('SSL stage', r.sslMetrics, unit));
  else if (r.mreMm !== undefined) lines.push(`  SSL stage   not in this run's result (finished before it was evaluated): npx cc2d eval ${r.runId} --compute-ssl`);
  if (r.pseudoLabelMetrics) lines.push(`  pseudo-labels on train (A): MRE ${r.pseudoLabelMetrics.mreMm.toFixed(3)} ${unit}`);
  lines.push(`  dataset ${r.datasetVersion}${r.datasetReused ? ' (reused)' : ''}`);
  // Stages taken from the stage cache: the run trained none of them itself.
  const reused = Object.entries(r.reusedFrom ?? {});
  if (reused.length > 0) {
    const bySource = new Map<string, string[]>();
    for (const [stage, source] of reused) bySource.set(source, [...(bySource.get(source) ?? []), stage]);
    lines.push(`  reused  ${[...bySource].map(([source, stages]) => `${stages.join(', ')} from run ${source}`).join('; ')} (stage cache; --no-cache trains them)`);
  }
  if (r.sslContinuedFrom) lines.push(`  SSL continued from run ${r.sslContinuedFrom.runId}'s step-${r.sslContinuedFrom.step} weights (stage cache)`);
  lines.push(`  report  ${r.reportKey}`);
  lines.push(`  lineage ${r.manifestKey}`);
  if (r.promotion) lines.push(`  champion of site ${r.promotion.site}: ${r.promotion.outcome} (${r.promotion.reason})`);
  return lines.join('\n');
}
