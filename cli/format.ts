/** Human-readable output of run results (the --json forms print the objects as they are). */
import type { PipelineResult } from '../contracts/types';

/** One line per protocol × set of a stage's metrics (MRE ± SD and the SDRs). */
export function formatStageMetrics(label: string, metrics: PipelineResult['metrics']): string[] {
  const lines: string[] = [];
  for (const [protocol, sets] of Object.entries(metrics)) {
    for (const [set, m] of Object.entries(sets)) {
      const sdr = Object.entries(m.sdr).sort(([a], [b]) => Number(a) - Number(b)).map(([k, v]) => `SDR<${k}mm ${v.toFixed(1)}%`).join('  ');
      lines.push(`  ${label.padEnd(11)} protocol ${protocol} ${set.padEnd(12)} n=${String(m.images).padEnd(4)} MRE ${m.mreMm.toFixed(3)} ± ${m.sdMm.toFixed(3)} mm  ${sdr}`);
    }
  }
  return lines;
}

export function formatResult(r: PipelineResult): string {
  const lines = [`run ${r.runId} completed; headline MRE ${r.mreMm.toFixed(3)} mm (${r.headlineSet}, protocol A)`];
  lines.push(...formatStageMetrics('final (TPL)', r.metrics));
  if (r.sslMetrics) lines.push(...formatStageMetrics('SSL stage', r.sslMetrics));
  else lines.push(`  SSL stage   not in this run's result (finished before it was evaluated): npx cc2d eval ${r.runId} --compute-ssl`);
  if (r.pseudoLabelMetrics) lines.push(`  pseudo-labels on train (A): MRE ${r.pseudoLabelMetrics.mreMm.toFixed(3)} mm`);
  lines.push(`  dataset ${r.datasetVersion}${r.datasetReused ? ' (reused)' : ''}`);
  lines.push(`  report  ${r.reportKey}`);
  lines.push(`  lineage ${r.manifestKey}`);
  return lines.join('\n');
}
