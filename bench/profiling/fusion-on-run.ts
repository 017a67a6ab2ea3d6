/**
 * SSL matching and the TPL model fused per landmark, measured on a finished run's TRAINING images
 * (their own labels are the validation set; the test splits are never read). Not part of the pipeline.
 *   npx tsx bench/profiling/fusion-on-run.ts <runId> [profile=quick]
 * For each landmark: the SSL match when it lies within τ grid cells of the TPL prediction (the
 * two agree, and matching is the sharper of the two), else the TPL prediction (matching's gross
 * errors are what TPL removes). Prints one JSON line per τ.
 */
import { initBackend } from '../../infra/tf-backend';
import { loadStackSettings } from '../../infra/config/stack';
import { createS3Store } from '../../infra/storage/s3-store';
import { DatasetReader } from '../../infra/dataset/reader';
import { scoreTestPredictions } from '../../ml/metrics';
import { runSslSource } from '../../cli/ssl-stage';
import { loadRunArtifacts } from './run-artifacts';
import { resolveProfile } from '../../ml/profiles';
import { createTplPredictor } from '../../ml/tpl';
import type { PointYX } from '../../ml/types';

const [runId, profileArg] = process.argv.slice(2);
if (!runId) throw new Error('usage: fusion-on-run.ts <runId> [profile=quick]');
await initBackend();
const store = createS3Store(loadStackSettings());
const { datasetVersion, templateId } = await runSslSource(store, runId);
const { keys, pseudoLabels: ssl } = await loadRunArtifacts(store, runId);
const tplWeightsKey = keys.find((k) => /tpl\/weights-/.test(k))!;
const profile = resolveProfile(profileArg ?? 'quick');
const S = profile.inputSize;
const reader = new DatasetReader(store, datasetVersion);
const labels = await reader.labels();
const trainIds = [...ssl.keys()].sort();
const validation = { train: trainIds.filter((id) => id !== templateId && labels.images[id] !== undefined) };
const images = await reader.images(S, validation.train);
const predictor = createTplPredictor({ profile, weights: await store.get(tplWeightsKey), landmarkCount: ssl.get(trainIds[0]!)!.length });
const tpl = new Map<string, PointYX[]>();
const detailed = await predictor.predictDetailed(images);
predictor.dispose();
validation.train.forEach((id, i) => tpl.set(id, detailed[i]!.landmarks));
const os = await import('node:os');
for (const tau of [0, 1, 2, 3, 4, 6, 8, 12, Infinity]) {
  const fused = new Map(validation.train.map((id) => [id, tpl.get(id)!.map((t, k) => {
    const s = ssl.get(id)![k]!;
    return Math.hypot(s[0] - t[0], s[1] - t[1]) <= tau ? s : t;
  })] as const));
  const scores = scoreTestPredictions({ labels, predicted: fused, testSplits: validation, gridSize: S });
  const row: Record<string, unknown> = { runId, tauCells: tau === Infinity ? 'inf (SSL only)' : tau, cpuModel: os.cpus()[0]?.model };
  for (const p of ['A', 'B'] as const) {
    const m = scores.summary[p]!.train!;
    row[p] = { mre: Number(m.mreMm.toFixed(3)), sdr2: Number(m.sdr['2']!.toFixed(1)), sdr4: Number(m.sdr['4']!.toFixed(1)), over10: Number(m.outlierPercent!.toFixed(1)) };
  }
  console.log(JSON.stringify(row));
}
store.destroy();
