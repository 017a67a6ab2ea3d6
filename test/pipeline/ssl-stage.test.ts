/**
 * The SSL-stage evaluation (infra/evaluation/ssl-stage.ts `evaluateSslStage`, shared by the
 * evaluateModel activity and `cc2d eval --compute-ssl`) equals `matchTemplate` + ml/metrics
 * called directly on the same weights, template and test images. In-memory store, smoke
 * profile, no Temporal, no S3.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetReader } from '../../infra/dataset/reader';
import { createIngestActivities } from '../../activities/ingest-dataset';
import { evaluateSslStage, STAGE_CHUNK } from '../../infra/evaluation/ssl-stage';
import { Prng } from '../../ml/core/prng';
import { evaluateBySplit, type EvalProtocol, type LandmarkEvalCase } from '../../ml/metrics';
import { resolveProfile } from '../../ml/profiles';
import { matchTemplate, prototypePoolIds } from '../../ml/ssl';
import { encodeSslWeights, SslNetwork } from '../../ml/ssl/network';
import type { PointYX } from '../../ml/types';
import { makeFixture, type Fixture } from '../dataset/support/fixtures';
import { RecordingMemoryStore } from '../dataset/support/memory-store';

const profile = resolveProfile('smoke');
const S = profile.inputSize;
const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => String(from + i).padStart(3, '0'));
const TRAIN = ids(1, 2);
const TEST1 = ids(3, STAGE_CHUNK + 2); // more than one chunk
const TEST2 = ids(3 + STAGE_CHUNK + 2, 2);
const TEMPLATE = TRAIN[1]!;
const POOL = prototypePoolIds(TRAIN, TEMPLATE); // the prototypes' pool (the smoke profile has prototype rounds)

describe('evaluateSslStage', () => {
  let fx: Fixture;
  const store = new RecordingMemoryStore();
  let version: string;
  let weights: Uint8Array;

  beforeAll(async () => {
    fx = await makeFixture({ train: TRAIN, test1: TEST1, test2: TEST2 });
    version = (await createIngestActivities({ store }).ingestDataset({ datasetDir: fx.root, sizes: [S] })).datasetVersion;
    const net = SslNetwork.create({ width: profile.ssl.width, embedDim: profile.ssl.embedDim, useRfb: profile.ssl.useRfb }, Prng.fromSeed(11));
    weights = await encodeSslWeights(net, S);
    net.dispose();
  });
  afterAll(() => fx?.cleanup());

  it('equals matchTemplate + evaluateBySplit called directly, both protocols, each split and their union', async () => {
    const testSplits = { test1: TEST1, test2: TEST2 };
    const progress: number[] = [];
    const chunks: number[] = [];
    const got = await evaluateSslStage({
      reader: new DatasetReader(store, version), profile, weights, templateId: TEMPLATE, testSplits, poolIds: POOL,
      beforeChunk: () => chunks.push(chunks.length), onProgress: (done) => progress.push(done),
    });

    // Directly: the template's working image and its working-grid GT from labels.json, one matchTemplate call.
    const reader = new DatasetReader(store, version);
    const labels = await reader.labels();
    const testIds = [...TEST1, ...TEST2];
    const [template] = await reader.images(S, [TEMPLATE]);
    const points = await matchTemplate({
      profile, weights, template: template!,
      templateLandmarks: labels.images[TEMPLATE]!.workingYx![String(S)]!.map(([y, x]) => [y, x] as PointYX),
      images: await reader.images(S, testIds), pool: await reader.images(S, POOL),
    });
    expect(testIds.map((id) => got.predicted.get(id))).toEqual(points);
    // The stage really used the prototypes: matching with the template's own vectors lands elsewhere.
    const withoutPrototypes = await matchTemplate({
      profile: { ...profile, ssl: { ...profile.ssl, prototypeRounds: 0 } }, weights, template: template!,
      templateLandmarks: labels.images[TEMPLATE]!.workingYx![String(S)]!.map(([y, x]) => [y, x] as PointYX),
      images: await reader.images(S, testIds),
    });
    expect(withoutPrototypes).not.toEqual(points);

    const spacingMm = (await reader.description()).pixelSpacingMm!;
    const cases: LandmarkEvalCase[] = testIds.map((id, i) => ({
      id, predicted: points[i]!, truth: labels.images[id]!.gtMeanXyPx!.map(([x, y]) => [y, x] as PointYX),
      originalHeight: labels.images[id]!.heightPx, originalWidth: labels.images[id]!.widthPx, spacingMm,
    }));
    const splits = [{ name: 'test1', ids: TEST1 }, { name: 'test2', ids: TEST2 }, { name: 'test1+test2', ids: testIds }];
    for (const protocol of ['A', 'B'] as EvalProtocol[]) {
      const direct = evaluateBySplit(cases, splits, { protocol, gridSize: S, spacingMm });
      for (const s of direct.splits) {
        const m = got.summary[protocol]![s.split]!;
        expect(m.images).toBe(s.coveredIds.length);
        expect(m.mreMm).toBe(s.report!.overall.mreMm);
        expect(m.sdMm).toBe(s.report!.overall.stdMm);
        expect(m.sdr).toEqual(Object.fromEntries(s.report!.overall.sdr.map((e) => [String(e.radiusMm), e.percent])));
        expect(Object.keys(m.sdr).sort()).toEqual(['2', '2.5', '3', '4']);
        expect(Number.isFinite(m.mreMm)).toBe(true);
        expect((got.protocols[protocol]![s.split] as { perLandmark: unknown }).perLandmark).toEqual(s.report!.perLandmark);
      }
      const sets = got.errors.find((e) => e.protocol === protocol)!.sets;
      expect(Object.keys(sets)).toEqual(['test1', 'test2']); // the union is derived by the report
      expect(sets.test1!.map((e) => e.errorsMm)).toEqual(direct.splits[0]!.report!.errors);
    }
    expect(got.headlineSet).toBe('test1+test2');
    expect(got.stage).toBe('ssl');
    expect(chunks).toHaveLength(Math.ceil(testIds.length / STAGE_CHUNK));
    expect(progress.at(-1)).toBe(testIds.length);
  });
});
