/**
 * A prediction request for a model with the refinement stage: the run's refinement weights come
 * from its lineage manifest, and each image is stored also at the refinement input size, resized
 * like a dataset version's images (the ingest resampler). A model without them gets neither.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLineageManifest } from '../../activities/publish-run';
import { prepareRequest } from '../../cli/predict-client';
import { decodeSiteImage } from '../../infra/dataset/site/image';
import { makeWorkingPng } from '../../infra/dataset/working-image';
import { loadRunModel, refineSizeOf } from '../../infra/predict/model';
import { runKeys, runPrefix } from '../../infra/storage/keys';
import { resolveProfile } from '../../ml/profiles';
import { RecordingMemoryStore } from '../dataset/support/memory-store';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Publishes a minimal run of `profile`: TPL weights, refinement weights when asked, a JSON report, the manifest. */
async function publishRun(store: RecordingMemoryStore, runId: string, profile: 'smoke' | 'quick', withRefine: boolean): Promise<void> {
  const prefix = runPrefix(runId);
  const tplWeights = await store.put(`${prefix}/tpl/weights-x.bin`, new Uint8Array([1, 2, 3]));
  const refineWeights = withRefine ? await store.put(`${prefix}/refine/weights-y.bin`, new Uint8Array([4, 5])) : undefined;
  const report = await store.put(`${prefix}/report/report-x.json`, utf8(JSON.stringify({
    lineage: { config: { config: { site: 'clinic', profile }, profile: resolveProfile(profile) } },
    dataset: { landmarkNames: ['Sella', 'Nasion'] },
  })));
  const manifest = buildLineageManifest({
    runId, prefix, artifacts: { tplWeights, ...(refineWeights ? { refineWeights } : {}), report },
    lineage: { runId, site: 'clinic', datasetVersion: 'v1', codeVersion: 'c1', reportKey: report.key },
  });
  await store.put(runKeys.manifest(runId), utf8(JSON.stringify(manifest)));
}

describe('cc2d predict: a model with the refinement stage', () => {
  const store = new RecordingMemoryStore();
  let dir: string;
  let image: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-refine-req-'));
    image = path.join(dir, 'a.png');
    const raw = Uint8Array.from({ length: 500 * 420 }, (_v, i) => (i * 7 + (i >> 9) * 13) % 256);
    await writeFile(image, await sharp(raw, { raw: { width: 500, height: 420, channels: 1 } }).png().toBuffer());
    await publishRun(store, 'run-refine', 'quick', true);
    await publishRun(store, 'run-plain', 'smoke', false);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const request = (runId: string) => prepareRequest(store, { paths: [image], formats: ['csv'], workers: 'none', spacingMm: 0.1, runId }).then((r) => r.request);

  it('carries the refinement weights and each image at the refinement size, resized like the dataset images', async () => {
    const { model } = await loadRunModel(store, 'run-refine');
    expect(model.refineWeights?.key).toBe('runs/run-refine/refine/weights-y.bin');
    const fineSize = refineSizeOf(model);
    expect(fineSize).toBe(resolveProfile('quick').refine!.inputSize);
    const req = await request('run-refine');
    expect(req.model.refineWeights).toEqual(model.refineWeights);
    const img = req.images[0]!;
    const decoded = await decodeSiteImage(new Uint8Array(await readFile(image)), 'png', image);
    expect(await store.get(img.fine!.key, img.fine!.sha256)).toEqual(await makeWorkingPng(decoded, fineSize!));
    expect(await store.get(img.working.key, img.working.sha256)).toEqual(await makeWorkingPng(decoded, model.profile.inputSize));
  });

  it('a model without refinement weights: no refinement in the request', async () => {
    const { model } = await loadRunModel(store, 'run-plain');
    expect(model.refineWeights).toBeUndefined();
    expect(refineSizeOf(model)).toBeUndefined();
    const req = await request('run-plain');
    expect(req.model.refineWeights).toBeUndefined();
    expect(req.images[0]!.fine).toBeUndefined();
  });
});
