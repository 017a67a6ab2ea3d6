/** Human-readable output of run results (the --json forms print the objects as they are). */
import type { PipelineResult } from '../activities/types';

export function formatResult(r: PipelineResult): string {
  const lines = [`run ${r.runId} completed; headline MRE ${r.mreMm.toFixed(3)} mm (${r.headlineSet}, protocol A)`];
  for (const [protocol, sets] of Object.entries(r.metrics)) {
    for (const [set, m] of Object.entries(sets)) {
      const sdr = Object.entries(m.sdr).sort(([a], [b]) => Number(a) - Number(b)).map(([k, v]) => `SDR<${k}mm ${v.toFixed(1)}%`).join('  ');
      lines.push(`  protocol ${protocol} ${set.padEnd(12)} n=${String(m.images).padEnd(4)} MRE ${m.mreMm.toFixed(3)} ± ${m.sdMm.toFixed(3)} mm  ${sdr}`);
    }
  }
  if (r.pseudoLabelMetrics) lines.push(`  pseudo-labels on train (A): MRE ${r.pseudoLabelMetrics.mreMm.toFixed(3)} mm`);
  lines.push(`  dataset ${r.datasetVersion}${r.datasetReused ? ' (reused)' : ''}`);
  lines.push(`  report  ${r.reportKey}`);
  lines.push(`  lineage ${r.manifestKey}`);
  return lines.join('\n');
}
