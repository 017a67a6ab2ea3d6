import { describe, expect, it } from 'vitest';
import { POSTPROCESS_OFF, PROFILES, ProfileSchema, postprocessOf, resolveProfile } from '../../../ml/profiles';
import { buildRunShapeModel, predictPostprocessed, ttaSettingsOf } from '../../../ml/postprocess';
import type { PredictedLandmarks } from '../../../ml/tpl';
import type { GrayImage, PointYX } from '../../../ml/types';

const SHAPE: PointYX[] = [[10, 10], [10, 50], [30, 60], [50, 50], [55, 30], [50, 10]];
const img: GrayImage = { height: 64, width: 64, data: new Float32Array(64 * 64) };

/** A fake predictor returning SHAPE with landmark 2 moved far away, full confidence. */
async function fake(images: readonly GrayImage[]): Promise<PredictedLandmarks[]> {
  return images.map(() => {
    const landmarks = SHAPE.map(([y, x]): PointYX => [y, x]);
    landmarks[2] = [5, 5];
    return { landmarks, votes: SHAPE.map(() => 3), peak: SHAPE.map(() => 0.9), agreement: SHAPE.map(() => 0.8), confidence: SHAPE.map(() => 0.85) };
  });
}

describe('post-processing as the profile says', () => {
  it('both levers off except the shape prior of cpu and quick (measured to pay there); a stored profile without the field parses as off', () => {
    for (const p of [PROFILES.smoke, PROFILES.paper]) expect(p.postprocess).toEqual(POSTPROCESS_OFF);
    for (const p of [PROFILES.cpu, PROFILES.quick]) expect(p.postprocess).toEqual({ ...POSTPROCESS_OFF, shapePrior: { ...POSTPROCESS_OFF.shapePrior, enabled: true } });
    const { postprocess: _dropped, ...old } = PROFILES.cpu;
    expect(ProfileSchema.parse(old).postprocess).toEqual(POSTPROCESS_OFF);
    expect(postprocessOf(old as never)).toEqual(POSTPROCESS_OFF);
    expect(() => resolveProfile('smoke', { postprocess: { tta: { scales: [3] } } })).toThrow(/profile\.postprocess\.tta\.scales/);
  });

  it('off: exactly the predictor\'s output', async () => {
    const [out] = await predictPostprocessed(fake, [img], PROFILES.smoke);
    const [raw] = await fake([img]);
    expect(out).toEqual({ ...raw, replaced: SHAPE.map(() => false) });
  });

  it('shape prior on: the gross error is replaced near its place in the shape and flagged with confidence 0', async () => {
    const profile = resolveProfile('smoke', { postprocess: { shapePrior: { enabled: true, replaceResidualFraction: 0.1 } } });
    const jitter = (s: number): PointYX[] => SHAPE.map(([y, x], k) => [y + ((k * s) % 3) - 1, x + ((k * s * 7) % 3) - 1]);
    const model = buildRunShapeModel(profile, SHAPE, [1, 2, 3, 4, 5, 6, 7, 8].map(jitter));
    expect(model).toBeDefined();
    const [skipped] = await predictPostprocessed(fake, [img], profile);
    expect(skipped!.replaced.every((r) => !r)).toBe(true);
    const [out] = await predictPostprocessed(fake, [img], profile, model);
    expect(out!.replaced).toEqual(SHAPE.map((_, k) => k === 2));
    expect(Math.hypot(out!.landmarks[2]![0] - 30, out!.landmarks[2]![1] - 60)).toBeLessThan(4);
    expect(out!.confidence[2]).toBe(0);
    expect(out!.confidence[0]).toBe(0.85);
  });

  it('no shape model from fewer than 3 landmarks or 3 shapes (the prior is then skipped)', () => {
    const profile = resolveProfile('smoke', { postprocess: { shapePrior: { enabled: true } } });
    expect(buildRunShapeModel(profile, SHAPE, [SHAPE])).toBeUndefined();
    expect(buildRunShapeModel(profile, SHAPE.slice(0, 2), [SHAPE.slice(0, 2), SHAPE.slice(0, 2), SHAPE.slice(0, 2)])).toBeUndefined();
  });

  it('TTA shifts scale with the input size, at least one cell', () => {
    expect(ttaSettingsOf(POSTPROCESS_OFF.tta, 192).shifts).toEqual([3]);
    expect(ttaSettingsOf(POSTPROCESS_OFF.tta, 64).shifts).toEqual([1]);
  });
});
