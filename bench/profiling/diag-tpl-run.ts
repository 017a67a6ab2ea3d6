/**
 * Diagnoses a finished run's TPL model: predictions vs pseudo-labels on training images and the
 * template, with vote counts and heatmap peaks. `npx tsx bench/profiling/diag-tpl-run.ts <runId> [ids...]`
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../infra/tf-backend';
import { loadStackSettings } from '../../infra/config/stack';
import { createS3Store } from '../../infra/storage/s3-store';
import { DatasetReader } from '../../infra/dataset/reader';
import { resolveProfile } from '../../ml/profiles';
import { createTplPredictor } from '../../ml/tpl';
import { defineTplNetwork, tplFeatures, tplHeatLogits } from '../../ml/tpl/network';
import { ParamStore } from '../../ml/core/params';
import { Prng } from '../../ml/core/prng';
import { decodeCheckpoint } from '../../ml/core/checkpoint';

const [runId, ...ids] = process.argv.slice(2);
await initBackend();
const store = createS3Store(loadStackSettings());
const manifest = JSON.parse(new TextDecoder().decode(await store.get(`runs/${runId}/manifest.json`)));
const files: Array<{ key: string; sha256: string }> = manifest.files ?? manifest.artifacts ?? [];
const find = (re: RegExp) => { const f = files.find((x) => re.test(x.key))!; return { ...f, key: f.key.startsWith("runs/") ? f.key : `runs/${runId}/${f.key}` }; };
const report = JSON.parse(new TextDecoder().decode(await store.get(find(/report\/report-.*\.json$/).key)));
const datasetVersion: string = manifest.meta?.datasetVersion ?? report.lineage?.datasetVersion ?? report.datasetVersion;
const profile = resolveProfile('cpu');
const weights = await store.get(find(/tpl\/weights-/).key);
const pseudo: Record<string, [number, number][]> = {};
for (const f0 of files.filter((f) => /pseudo-labels\/shard/.test(f.key))) { const f = { key: f0.key.startsWith("runs/") ? f0.key : `runs/${runId}/${f0.key}` };
  Object.assign(pseudo, JSON.parse(new TextDecoder().decode(await store.get(f.key))).labels);
}
const reader = new DatasetReader(store, datasetVersion);
const { template, templateLandmarks } = await reader.template('125', profile.inputSize);
const useIds = ids.length ? ids : ['001', '002', '050'];
const images = await reader.images(profile.inputSize, useIds);
const pred = createTplPredictor({ profile, weights, landmarkCount: 19 });
const out = await pred.predictDetailed([template, ...images]);
const show = (name: string, truth: [number, number][], p: { landmarks: [number, number][]; votes: number[] }) => {
  const err = p.landmarks.map((q, j) => Math.hypot(q[0] - truth[j]![0], q[1] - truth[j]![1]));
  console.log(name, 'mean cell err', (err.reduce((a, b) => a + b, 0) / err.length).toFixed(1), 'votes', p.votes.join(','));
  console.log('  pred', JSON.stringify(p.landmarks.slice(0, 6)), '\n  true', JSON.stringify(truth.slice(0, 6)));
};
show('template 125 (true labels)', templateLandmarks as [number, number][], out[0]!);
useIds.forEach((id, i) => show(`train ${id} (pseudo)`, pseudo[id]!, out[i + 1]!));
// Heatmap peaks
const ck = decodeCheckpoint(weights);
const params = new ParamStore(Prng.fromSeed(0));
defineTplNetwork(params, { width: profile.tpl.width, landmarkCount: 19 });
params.load(ck.params);
const S = profile.inputSize;
tf.tidy(() => {
  const heat = tf.sigmoid(tplHeatLogits(params, tplFeatures(params, tf.tensor4d(template.data, [1, S, S, 1])), 19));
  const flat = tf.reshape(tf.transpose(heat, [0, 3, 1, 2]), [19, S * S]);
  const mx = flat.max(1).dataSync();
  const arg = flat.argMax(1).dataSync();
  const mean = flat.mean(1).dataSync();
  console.log('heat max', Array.from(mx).map((v) => v.toFixed(2)).join(','));
  console.log('heat mean', Array.from(mean).map((v) => v.toFixed(3)).join(','));
  console.log('heat argmax yx', Array.from(arg).map((a) => `[${Math.floor(a / S)},${a % S}]`).join(','));
  console.log('true yx     ', templateLandmarks.map((p) => `[${p[0]},${p[1]}]`).join(','));
});
pred.dispose();
store.destroy?.();
