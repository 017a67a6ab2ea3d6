/**
 * `cc2d compare <runA> <runB> [--json]`: two completed runs side by side, from their published
 * JSON reports (S3 only): changed config fields, metrics per stage, protocol and split with
 * deltas (b − a), MRE per landmark; `--json` adds the SDR curves of both.
 */
import type { Command } from 'commander';
import { compareRuns, loadRunSnapshot, type ConfigChange, type Pair, type RunComparison, type RunHeader } from '../../infra/compare';
import { loadStackSettings } from '../../infra/config/stack';
import { sdrByRadius, splitLabel } from '../../infra/report/stats';
import { createS3Store } from '../../infra/storage/s3-store';
import { counted, formatMre } from '../format';

const show = (v: unknown): string => {
  if (v === undefined) return '(absent)';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

const num = (v: number | null, digits: number): string => (v === null ? '–' : v.toFixed(digits));
const signed = (v: number | null, digits: number): string => (v === null ? '' : ` (${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)})`);

/** "2.345 → 2.100 (−0.245)". */
export function formatPair(p: Pair, digits = 3): string {
  return `${num(p.a, digits)} → ${num(p.b, digits)}${signed(p.delta, digits)}`;
}

function runLine(tag: string, h: RunHeader): string {
  const mre = h.noMetrics ? 'no metrics' : `MRE ${formatMre(h.headlineMre, h.unit)}${h.headlineSet ? ` (${h.headlineSet}, protocol A)` : ''}`;
  return `  ${tag} ${h.runId}  site ${h.site ?? '?'}  profile ${h.profile ?? '?'}  dataset ${h.datasetVersion.slice(0, 12)}  ${mre}`;
}

function changeLine(c: ConfigChange, width: number): string {
  return `  ${c.path.padEnd(width)}  ${show(c.a)} → ${show(c.b)}`;
}

export function formatComparison(c: RunComparison): string {
  const unit = c.a.unit === c.b.unit ? c.a.unit : `${c.a.unit}/${c.b.unit}`;
  const lines = [`compare A → B (deltas are B − A, errors in ${unit})`, runLine('A', c.a), runLine('B', c.b)];
  if (c.configChanges.length === 0) lines.push('config: identical (config, resolved profile, dataset version, code version)');
  else {
    lines.push(`config: ${c.configChanges.length} field(s) differ`);
    const width = Math.max(...c.configChanges.map((x) => x.path.length));
    lines.push(...c.configChanges.map((x) => changeLine(x, width)));
  }
  for (const n of c.notes) lines.push(`note: ${n}`);
  if (c.sets.length > 0) lines.push('metrics:');
  for (const s of c.sets) {
    const label = `${s.stage === 'final' ? 'final (TPL)' : 'SSL stage'} ${s.protocol} ${splitLabel(s.split)}`;
    const sdr = sdrByRadius(s.sdr).map(([r, p]) => `SDR<${r} ${formatPair(p, 1)}`).join('  ');
    lines.push(`  ${label.padEnd(26)} n=${num(s.images.a, 0)}/${num(s.images.b, 0)}  MRE ${formatPair(s.mre)}  SD ${formatPair(s.sd)}  ${sdr}`);
    // Different images (other dataset versions): the like-for-like figure, as the promotion gate sees it.
    if (s.common) lines.push(`  ${''.padEnd(26)} on the ${counted(s.common.images, 'image')} both scored: MRE ${formatPair(s.common.mre)}`);
  }
  // Per landmark for the final model under protocol A (the headline protocol); --json has them all.
  for (const s of c.sets.filter((x) => x.stage === 'final' && x.protocol === 'A')) {
    lines.push(`per landmark, final (TPL), protocol A, ${splitLabel(s.split)} (MRE):`);
    const width = Math.max(0, ...s.landmarks.map((l) => l.name.length));
    for (const l of s.landmarks) lines.push(`  ${l.name.padEnd(width)}  ${formatPair(l)}`);
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('compare <runA> <runB>')
    .description('Compare two completed runs: config diff, metrics per protocol, split and landmark with deltas (B − A), SDR curves (--json)')
    .option('--json', 'the whole comparison as one JSON object (with the SDR curves)')
    .action(async (runA: string, runB: string, opts: { json?: boolean }) => {
      const store = createS3Store(loadStackSettings());
      try {
        const [a, b] = await Promise.all([loadRunSnapshot(store, runA), loadRunSnapshot(store, runB)]);
        const comparison = compareRuns(a, b);
        console.log(opts.json ? JSON.stringify(comparison) : formatComparison(comparison));
      } finally {
        store.destroy();
      }
    });
}
