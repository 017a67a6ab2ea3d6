/**
 * The final model's landmarks (evaluation's and predict's one code path): without the refinement
 * stage exactly the post-processed TPL points (the fine images are never asked for); with it,
 * those points refined on the fine grid and moved back unrounded, the confidences unchanged.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createFinalLandmarkPredictor } from '../../ml/final-landmarks';
import { predictPostprocessed } from '../../ml/postprocess';
import { resolveProfile } from '../../ml/profiles';
import { createRefinePredictor, createRefineTrainer, rescalePoint } from '../../ml/refine';
import { createTplPredictor, createTplTrainer } from '../../ml/tpl';
import type { GrayImage, PointYX } from '../../ml/types';

function dots(size: number, pts: readonly PointYX[]): GrayImage {
  const data = new Float32Array(size * size).fill(0.2);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) for (const [py, px] of pts) data[y * size + x] += Math.exp(-((y - py) ** 2 + (x - px) ** 2) / 4);
  }
  return { height: size, width: size, data };
}

describe('final landmarks: TPL -> post-processing -> refinement', () => {
  it('equals the stages applied one after another, and needs the fine images only with the refinement stage', async () => {
    const profile = resolveProfile('smoke', { refine: { inputSize: 128, patch: 16, channels: 4, batch: 4, steps: 2, lrDecaySteps: [1], jitter: 4, checkpointEvery: 1 } });
    const s = profile.inputSize;
    const fineSize = profile.refine!.inputSize;
    const labels: PointYX[][] = [[[20, 30], [40, 12]], [[24, 28], [44, 16]], [[18, 34], [38, 10]]];
    const images = labels.map((pts) => dots(s, pts));
    const fine = labels.map((pts) => dots(fineSize, pts.map((p) => rescalePoint(p, s, fineSize))));

    const tplTrainer = await createTplTrainer({ profile, images, pseudoLabels: labels, template: images[0]!, templateLandmarks: labels[0]!, seed: 1 });
    await tplTrainer.train(2);
    const tplWeights = await tplTrainer.exportWeights();
    tplTrainer.dispose();
    const fineLabels = labels.map((pts) => pts.map((p) => rescalePoint(p, s, fineSize)));
    const refineTrainer = await createRefineTrainer({ refine: profile.refine!, images: fine.slice(1), labels: fineLabels.slice(1), template: fine[0]!, templateLandmarks: fineLabels[0]!, seed: 1 });
    await refineTrainer.train(2);
    const refineWeights = await refineTrainer.exportWeights();
    refineTrainer.dispose();
    const before = tf.memory().numTensors;

    const tpl = createTplPredictor({ profile, weights: tplWeights, landmarkCount: 2 });
    const processed = await predictPostprocessed((x) => tpl.predictDetailed(x), images, profile);
    tpl.dispose();
    const refiner = createRefinePredictor({ refine: profile.refine!, weights: refineWeights, landmarkCount: 2 });
    const refined = (await refiner.refine(fine, processed.map((p) => p.landmarks.map((pt) => rescalePoint(pt, s, fineSize)))))
      .map((pts) => pts.map((pt) => rescalePoint(pt, fineSize, s)));
    refiner.dispose();

    const noFine = () => Promise.reject(new Error('fine images asked for'));
    const { refine: _off, ...withoutRefine } = profile;
    for (const [p, w] of [[profile, undefined], [withoutRefine, refineWeights]] as const) {
      const plain = createFinalLandmarkPredictor({ profile: p, tplWeights, ...(w ? { refineWeights: w } : {}), landmarkCount: 2 });
      expect(plain.fineSize).toBeUndefined();
      expect(await plain.predict(images, noFine)).toEqual(processed);
      plain.dispose();
    }

    const final = createFinalLandmarkPredictor({ profile, tplWeights, refineWeights, landmarkCount: 2 });
    expect(final.fineSize).toBe(fineSize);
    const asked: number[] = [];
    const out = await final.predict(images, async (size) => {
      asked.push(size);
      return fine;
    });
    final.dispose();
    expect(asked).toEqual([fineSize]);
    expect(out).toEqual(processed.map((p, i) => ({ ...p, landmarks: refined[i] })));
    expect(out.map((p) => p.landmarks)).not.toEqual(processed.map((p) => p.landmarks)); // refinement moved the points
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);
});
