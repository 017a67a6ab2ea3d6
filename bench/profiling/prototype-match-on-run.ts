/**
 * Prototype matching (ml/ssl/matching.ts, docs/method.md#prototypes) measured on a finished run's
 * SSL weights, on the TRAINING images only (their own labels are the validation set; the test
 * splits are never read). Not part of the pipeline; run by hand:
 *   npx tsx bench/profiling/prototype-match-on-run.ts <runId> [rounds=0,1,2,3] [fromLevels=1,2,3] [weightsFile]
 * For each (rounds, fromLevel) it builds the prototypes from the run's unlabelled training images
 * and matches the same images, as pseudo-labelling does; rounds = 0 is matching with the
 * template's own vectors (the run's pseudo-labels before prototypes). One JSON line.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { runSslSource } from '../../cli/ssl-stage';
import { loadStackSettings } from '../../infra/config/stack';
import { DatasetReader } from '../../infra/dataset/reader';
import { createS3Store } from '../../infra/storage/s3-store';
import { initBackend } from '../../infra/tf-backend';
import { scoreTestPredictions } from '../../ml/metrics';
import { prototypePoolIds, SslMatcher } from '../../ml/ssl';
import type { PointYX } from '../../ml/types';

const [runId, roundsArg, levelsArg, weightsFile] = process.argv.slice(2);
if (!runId) throw new Error('usage: prototype-match-on-run.ts <runId> [rounds=0,1,2,3] [fromLevels=1,2,3] [weightsFile]');
const list = (arg: string | undefined, dflt: string) => (arg ?? dflt).split(',').map(Number);
await initBackend();
const store = createS3Store(loadStackSettings());
const source = await runSslSource(store, runId);
if (!source.trainIds) throw new Error(`${runId}: its report lists no training ids`);
const { profile } = source;
const S = profile.inputSize;
const weights = weightsFile ? new Uint8Array(readFileSync(weightsFile)) : await store.get(source.sslWeights.key, source.sslWeights.sha256);
const reader = new DatasetReader(store, source.datasetVersion);
const labels = await reader.labels();
const { template, templateLandmarks } = await reader.template(source.templateId, S);
const poolIds = prototypePoolIds(source.trainIds, source.templateId);
const pool = await reader.images(S, poolIds);
const validation = poolIds.filter((id) => labels.images[id] !== undefined);

function score(points: PointYX[][]) {
  const predicted = new Map(poolIds.map((id, i) => [id, points[i]!]));
  const s = scoreTestPredictions({ labels, predicted, testSplits: { train: validation }, gridSize: S });
  const [a, b] = [s.summary.A!.train!, s.summary.B!.train!];
  return { A: +a.mreMm.toFixed(3), B: +b.mreMm.toFixed(3), sdr2A: +a.sdr['2']!.toFixed(1), sdr4A: +a.sdr['4']!.toFixed(1), over10A: +(a.outlierPercent ?? Number.NaN).toFixed(1) };
}

const t0 = performance.now();
const matcher = SslMatcher.create(profile, weights);
const results: Record<string, ReturnType<typeof score>> = {};
try {
  for (const rounds of list(roundsArg, '0,1,2,3')) {
    for (const fromLevel of rounds === 0 ? [1] : list(levelsArg, '1,2,3')) {
      const desc = await matcher.describePrototypes(template, templateLandmarks, pool, { rounds, fromLevel });
      results[rounds === 0 ? 'template' : `rounds${rounds}-from${fromLevel}`] = score(await matcher.matchDescribed(desc, pool));
    }
  }
} finally {
  matcher.dispose();
}
console.log(JSON.stringify({
  runId, weights: weightsFile ?? source.sslWeights.key, validationImages: validation.length, results,
  seconds: Math.round((performance.now() - t0) / 1000), cpuModel: os.cpus()[0]?.model, loadavg: os.loadavg().map((v) => v.toFixed(1)).join(' '), date: new Date().toISOString(),
}));
store.destroy();
