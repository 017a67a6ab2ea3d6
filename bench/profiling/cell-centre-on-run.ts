/**
 * Where a grid point lands in original pixels, scored on a finished run's stored files (not a test;
 * run by hand; docs/accuracy.md#cell-centre):
 *   npx tsx bench/profiling/cell-centre-on-run.ts <runId> <datasetVersion>
 * Maps each point back to original pixels two ways, the grid cell's top-left corner (p·W/S, the
 * mapping before 2026-12-03) and its centre ((p + ½)·W/S, ml/metrics gridToOriginalXy), and prints
 * the full-resolution MRE of both: first for the run's pseudo-labels of the training images (their
 * own labels: the validation set), then for its final Test1 predictions, with protocol A beside them.
 */
import { loadStackSettings } from '../../infra/config/stack';
import { DatasetReader } from '../../infra/dataset/reader';
import { createS3Store } from '../../infra/storage/s3-store';
import { errorStats, radialErrorsMm, type LandmarkEvalCase } from '../../ml/metrics';
import type { PointYX } from '../../ml/types';
import { loadRunArtifacts } from './run-artifacts';

const [runId, version] = process.argv.slice(2);
if (!runId || !version) throw new Error('usage: cell-centre-on-run.ts <runId> <datasetVersion>');
const store = createS3Store(loadStackSettings());
const labels = await new DatasetReader(store, version).labels();
const { keys, pseudoLabels } = await loadRunArtifacts(store, runId);
const predictionsKey = keys.find((k) => /\/predictions-[0-9a-f]{64}\.json$/.test(k));
if (!predictionsKey) throw new Error(`run ${runId}: no stored predictions`);
const stored = JSON.parse(new TextDecoder().decode(await store.get(predictionsKey))) as { gridSize: number; predictionsYx: Record<string, PointYX[]> };
const S = stored.gridSize;

function score(points: Iterable<[string, PointYX[]]>, keep: (split: string) => boolean): string {
  const corner: number[] = [];
  const centre: number[] = [];
  const a: number[] = [];
  for (const [id, predicted] of points) {
    const img = labels.images[id];
    if (!img?.gtMeanXyPx || !keep(img.split)) continue;
    const truth = img.gtMeanXyPx.map(([x, y]): PointYX => [y, x]);
    const spacing = img.spacingMm ?? 0.1;
    const c: LandmarkEvalCase = { id, predicted, truth, originalHeight: img.heightPx, originalWidth: img.widthPx, spacingMm: spacing };
    centre.push(...radialErrorsMm(c, { protocol: 'B', gridSize: S }));
    a.push(...radialErrorsMm(c, { protocol: 'A', gridSize: S }));
    predicted.forEach((p, i) => corner.push(spacing * Math.hypot((p[0] * img.heightPx) / S - truth[i]![0], (p[1] * img.widthPx) / S - truth[i]![1])));
  }
  const f = (e: number[]) => {
    const s = errorStats(e);
    return `${s.mreMm.toFixed(3)} mm (SDR 2/2.5/3/4 ${s.sdr.map((x) => x.percent.toFixed(1)).join('/')} %, > 10 mm ${s.outlierPercent.toFixed(2)} %)`;
  };
  return `n = ${a.length}; A ${f(a)}; B corner ${f(corner)}; B centre ${f(centre)}`;
}

console.log(`${runId}, grid ${S}`);
console.log(`  pseudo-labels, training images: ${score(pseudoLabels, (split) => split === 'train')}`);
console.log(`  final, Test1:                   ${score(Object.entries(stored.predictionsYx), (split) => split === 'test1')}`);
