/**
 * Does a pseudo-label's round trip tell a wrong one? On a finished run's TRAINING images (their own
 * labels are the validation set; test images are never read): each image's pseudo-labels are
 * matched back into the template with the run's SSL weights (plain cascade matching), and the
 * round trip is the distance from there to the template's own landmark, in working-grid cells.
 * For thresholds R it prints the share of pseudo-labels whose round trip exceeds R, the MRE
 * (protocol A) of those kept and of those flagged, and which share of the pseudo-labels wrong by
 * more than 5 / 10 mm is flagged. Not part of the pipeline; prints one JSON line last.
 *   npx tsx bench/profiling/cycle-confidence-on-run.ts <runId>
 */
import os from 'node:os';
import { initBackend } from '../../infra/tf-backend';
import { loadStackSettings } from '../../infra/config/stack';
import { createS3Store } from '../../infra/storage/s3-store';
import { DatasetReader } from '../../infra/dataset/reader';
import { runSslSource } from '../../cli/ssl-stage';
import { scoreTestPredictions } from '../../ml/metrics';
import { SslMatcher, templateRoundTrips } from '../../ml/ssl';
import { loadRunArtifacts } from './run-artifacts';

const [runId] = process.argv.slice(2);
if (!runId) throw new Error('usage: cycle-confidence-on-run.ts <runId>');
const backend = await initBackend();
const store = createS3Store(loadStackSettings());
const source = await runSslSource(store, runId);
const { pseudoLabels } = await loadRunArtifacts(store, runId);
const profile = source.profile;
const S = profile.inputSize;
const reader = new DatasetReader(store, source.datasetVersion);
const labels = await reader.labels();
const ids = [...pseudoLabels.keys()].filter((id) => id !== source.templateId && labels.images[id]?.gtMeanXyPx !== undefined).sort();
const { template, templateLandmarks } = await reader.template(source.templateId, S);
const images = await reader.images(S, ids);

const t0 = performance.now();
const matcher = SslMatcher.create(profile, await store.get(source.sslWeights.key, source.sslWeights.sha256));
const roundTrip = await templateRoundTrips({ matcher, template, templateLandmarks, labels: ids.map((id) => pseudoLabels.get(id)!), load: async (a, b) => images.slice(a, b) });
matcher.dispose();
const matchSeconds = Math.round((performance.now() - t0) / 1000);

const scores = scoreTestPredictions({ labels, predicted: new Map(ids.map((id) => [id, pseudoLabels.get(id)!])), testSplits: { train: ids }, gridSize: S });
const errorsById = new Map(scores.errors.find((e) => e.protocol === 'A')!.sets.train!.map((r) => [r.id, r.errorsMm]));
const pairs: Array<{ r: number; e: number; k: number }> = [];
ids.forEach((id, i) => errorsById.get(id)!.forEach((e, k) => pairs.push({ r: roundTrip[i]![k]!, e, k })));
const mean = (xs: number[]) => (xs.length ? +(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3) : null);
const share = (n: number, d: number) => (d ? +((100 * n) / d).toFixed(1) : null);
const rows = [0, 1, 2, 3, 4, 6, 8, 12].map((R) => {
  const flagged = pairs.filter((p) => p.r > R);
  const kept = pairs.filter((p) => p.r <= R);
  return {
    roundTripOverCells: R,
    flaggedPercent: share(flagged.length, pairs.length),
    mreKeptMm: mean(kept.map((p) => p.e)),
    mreFlaggedMm: mean(flagged.map((p) => p.e)),
    over5mmFlaggedPercent: share(flagged.filter((p) => p.e > 5).length, pairs.filter((p) => p.e > 5).length),
    over10mmFlaggedPercent: share(flagged.filter((p) => p.e > 10).length, pairs.filter((p) => p.e > 10).length),
  };
});
for (const row of rows) console.error(JSON.stringify(row));
const K = templateLandmarks.length;
const perLandmark = Array.from({ length: K }, (_v, k) => {
  const mine = pairs.filter((p) => p.k === k);
  return { landmark: k + 1, mreMm: mean(mine.map((p) => p.e)), meanRoundTripCells: mean(mine.map((p) => p.r)) };
});
console.log(JSON.stringify({
  runId, backend: backend.backend, cpuModel: os.cpus()[0]?.model, images: ids.length, pseudoLabels: pairs.length,
  mreAllMm: mean(pairs.map((p) => p.e)), matchSeconds, rows, perLandmark,
}));
store.destroy();
