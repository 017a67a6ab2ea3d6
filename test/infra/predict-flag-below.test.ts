/**
 * The low-confidence threshold of predictions: `predict.flagBelow` in the run config (default 0.5
 * for every profile, validated, outside the config hash), the model run's value as the default of
 * `cc2d predict`, `--flag-below` overriding it, and the value recorded in the request.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLineageManifest } from '../../activities/publish-run';
import { prepareRequest, type PredictOptions } from '../../cli/predict-client';
import { buildPipelineInput, DEFAULT_FLAG_BELOW, loadRunConfig, parseRunConfig } from '../../infra/config/run-config';
import { InvalidConfigError } from '../../infra/errors';
import { loadRunModel } from '../../infra/predict/model';
import { runKeys, runPrefix } from '../../infra/storage/keys';
import { resolveProfile } from '../../ml/profiles';
import { RecordingMemoryStore } from '../dataset/support/memory-store';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Publishes a minimal run: TPL weights, a JSON report with its config (predict.flagBelow when given), the manifest. */
async function publishRun(store: RecordingMemoryStore, runId: string, flagBelow?: number): Promise<void> {
  const prefix = runPrefix(runId);
  const weights = await store.put(`${prefix}/tpl/weights-x.bin`, new Uint8Array([1, 2, 3]));
  const config = { site: 'clinic', profile: 'smoke', ...(flagBelow !== undefined ? { predict: { flagBelow } } : {}) };
  const report = await store.put(`${prefix}/report/report-x.json`, utf8(JSON.stringify({
    lineage: { config: { config, profile: resolveProfile('smoke') } },
    dataset: { landmarkNames: ['Sella', 'Nasion'] },
  })));
  const manifest = buildLineageManifest({
    runId, prefix, artifacts: { tplWeights: weights, report },
    lineage: { runId, site: 'clinic', datasetVersion: 'v1', codeVersion: 'c1', reportKey: report.key },
  });
  await store.put(runKeys.manifest(runId), utf8(JSON.stringify(manifest)));
}

describe('predict.flagBelow in the run config', () => {
  it('defaults to 0.5 for every profile, is validated, and does not change the config hash', async () => {
    for (const profile of ['smoke', 'quick', 'cpu', 'paper'] as const) {
      expect(parseRunConfig({ dataset: { dir: '/d' }, profile }).predict).toEqual({ flagBelow: DEFAULT_FLAG_BELOW });
    }
    expect(DEFAULT_FLAG_BELOW).toBe(0.5);
    for (const bad of [1.5, -0.1, 'high']) {
      const err = (() => {
        try {
          parseRunConfig({ dataset: { dir: '/d' }, predict: { flagBelow: bad } });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(InvalidConfigError);
      expect((err as Error).message).toContain('config.predict.flagBelow');
    }
    const set = await loadRunConfig({ dataset: '/d', set: ['predict.flagBelow=0.3'] }, {});
    expect(set.predict.flagBelow).toBe(0.3);
    const a = buildPipelineInput(parseRunConfig({ dataset: { dir: '/d' }, profile: 'smoke' }));
    const b = buildPipelineInput(parseRunConfig({ dataset: { dir: '/d' }, profile: 'smoke', predict: { flagBelow: 0.2 } }));
    expect(b.configHash).toBe(a.configHash);
  });
});

describe('cc2d predict: the threshold of a request', () => {
  const store = new RecordingMemoryStore();
  let dir: string;
  let image: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-flag-'));
    image = path.join(dir, 'a.png');
    await writeFile(image, await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 128, g: 128, b: 128 } } }).greyscale().png().toBuffer());
    await publishRun(store, 'run-strict', 0.8);
    await publishRun(store, 'run-old');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const request = (o: Partial<PredictOptions>) =>
    prepareRequest(store, { paths: [image], formats: ['csv'], workers: 'none', spacingMm: 0.1, ...o }).then((r) => r.request);

  it("the model run's config value is the default; --flag-below overrides it; a run from before the field gets 0.5", async () => {
    expect((await loadRunModel(store, 'run-strict')).flagBelow).toBe(0.8);
    expect((await request({ runId: 'run-strict' })).flagBelow).toBe(0.8);
    expect((await request({ runId: 'run-strict', flagBelow: 0.25 })).flagBelow).toBe(0.25);
    expect((await request({ runId: 'run-old' })).flagBelow).toBe(0.5);
    await expect(request({ runId: 'run-old', flagBelow: 2 })).rejects.toThrow(/--flag-below: 2 is not in \[0, 1\]/);
  });

  it('the threshold is part of the request document (and so of its sha256)', async () => {
    const a = await prepareRequest(store, { paths: [image], formats: ['csv'], workers: 'none', spacingMm: 0.1, runId: 'run-strict' });
    const b = await prepareRequest(store, { paths: [image], formats: ['csv'], workers: 'none', spacingMm: 0.1, runId: 'run-strict', flagBelow: 0.25 });
    expect(JSON.parse(new TextDecoder().decode(a.bytes)).flagBelow).toBe(0.8);
    expect(b.sha256).not.toBe(a.sha256);
  });
});
