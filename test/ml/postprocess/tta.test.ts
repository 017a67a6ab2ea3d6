import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { resolveProfile } from '../../../ml/profiles';
import { createTplPredictor, createTplTrainer, diskRadius, type PredictedLandmarks } from '../../../ml/tpl';
import { combineViews, forwardPoint, inversePoint, predictWithTta, ttaViews, warpImage, weightedMedian } from '../../../ml/postprocess';
import type { GrayImage, PointYX } from '../../../ml/types';

const settings = { scales: [0.9, 1.1], shifts: [3], rotationsDeg: [-4, 4] };

function dot(size: number, [py, px]: PointYX): GrayImage {
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) data[y * size + x] = Math.exp(-((y - py) ** 2 + (x - px) ** 2) / 4);
  return { height: size, width: size, data };
}

/** A fake predictor: the brightest pixel, full confidence. */
async function argmaxPredict(images: readonly GrayImage[]): Promise<PredictedLandmarks[]> {
  return images.map((img) => {
    let best = 0;
    for (let i = 1; i < img.data.length; i++) if (img.data[i]! > img.data[best]!) best = i;
    return { landmarks: [[Math.floor(best / img.width), best % img.width]], votes: [1], peak: [1], agreement: [1], confidence: [1] };
  });
}

describe('TTA views', () => {
  it('lists the identity first, then one factor per view (no flips)', () => {
    const v = ttaViews(settings);
    expect(v).toHaveLength(1 + 2 + 4 + 2);
    expect(v[0]).toEqual({ scale: 1, angleRad: 0, shift: [0, 0] });
    expect(v.every((t) => t.scale > 0)).toBe(true);
  });

  it('inversePoint undoes forwardPoint', () => {
    for (const t of ttaViews(settings)) {
      const q = forwardPoint([10, 40], t, 64, 64);
      const p = inversePoint(q, t, 64, 64);
      expect(p[0]).toBeCloseTo(10, 9);
      expect(p[1]).toBeCloseTo(40, 9);
    }
  });

  it('warpImage moves an object at p to forwardPoint(p)', () => {
    const img = dot(64, [20, 44]);
    for (const t of ttaViews(settings)) {
      const [[y, x]] = argmaxPredictSync(warpImage(img, t)) as [PointYX];
      const [ey, ex] = forwardPoint([20, 44], t, 64, 64);
      expect(Math.hypot(y - ey, x - ex)).toBeLessThan(1.01);
    }
  });
});

function argmaxPredictSync(img: GrayImage): PointYX[] {
  let best = 0;
  for (let i = 1; i < img.data.length; i++) if (img.data[i]! > img.data[best]!) best = i;
  return [[Math.floor(best / img.width), best % img.width]];
}

describe('combining views', () => {
  it('weightedMedian follows the weights and falls back to unweighted', () => {
    expect(weightedMedian([1, 2, 100], [1, 1, 1])).toBe(2);
    expect(weightedMedian([1, 2, 100], [0, 0, 5])).toBe(100);
    expect(weightedMedian([3, 1, 2], [0, 0, 0])).toBe(2);
  });

  it('a minority of views on a wrong structure neither moves the point nor keeps full confidence', () => {
    const view = (y: number, x: number, c: number): PredictedLandmarks => ({ landmarks: [[y, x]], votes: [5], peak: [0.9], agreement: [0.8], confidence: [c] });
    const out = combineViews([view(20, 20, 0.8), view(21, 20, 0.7), view(20, 19, 0.9), view(50, 5, 0.9)], 64, 64, 4);
    expect(out.landmarks[0]).toEqual([20, 19]); // the lower weighted median of x (5, 19, 20, 20 weighted 0.9, 0.9, 0.8, 0.7)
    expect(out.confidence[0]).toBeCloseTo((0.8 + 0.7 + 0.9) / 4, 9);
    expect(out.votes[0]).toBe(5);
  });

  it('predictWithTta maps every view back to the original grid', async () => {
    const out = await predictWithTta(argmaxPredict, [dot(64, [20, 44]), dot(64, [50, 9])], settings, 4);
    expect(out.map((o) => o.landmarks[0])).toEqual([[20, 44], [50, 9]]);
    expect(out[0]!.confidence[0]).toBe(1);
  });

  it('runs the real TPL predictor without leaking tensors', async () => {
    const profile = resolveProfile('smoke');
    const s = profile.inputSize;
    const imgs = [dot(s, [20, 30]), dot(s, [40, 12])];
    const trainer = await createTplTrainer({ profile, images: imgs, pseudoLabels: [[[20, 30]], [[40, 12]]], template: imgs[0]!, templateLandmarks: [[20, 30]], seed: 1 });
    await trainer.train(2);
    const weights = await trainer.exportWeights();
    trainer.dispose();
    const predictor = createTplPredictor({ profile, weights, landmarkCount: 1 });
    const before = tf.memory().numTensors;
    const out = await predictWithTta((x) => predictor.predictDetailed(x), imgs, settings, diskRadius(s, profile.tpl.radiusFraction));
    expect(tf.memory().numTensors).toBe(before);
    predictor.dispose();
    expect(out).toHaveLength(2);
    for (const o of out) {
      const [y, x] = o.landmarks[0]!;
      expect(Number.isInteger(y) && Number.isInteger(x) && y >= 0 && x >= 0 && y < s && x < s).toBe(true);
      expect(o.confidence[0]).toBeGreaterThanOrEqual(0);
      expect(o.confidence[0]).toBeLessThanOrEqual(1);
    }
  });
});
