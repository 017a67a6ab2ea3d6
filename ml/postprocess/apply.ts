/**
 * The profile's post-processing of TPL predictions, as evaluation and `cc2d predict` apply it:
 * test-time augmentation (when on), then the shape prior (when on and a model is given). A
 * landmark the shape prior replaced gets confidence 0: its position comes from the other
 * landmarks, not from the image, so it is flagged for review like any unsure landmark.
 */
import { postprocessOf, type PostprocessProfile, type Profile } from '../profiles';
import { diskRadius } from '../tpl/codec';
import type { PredictedLandmarks } from '../tpl/predict';
import type { GrayImage, PointYX } from '../types';
import { buildShapeModel, fitShapeModel, type ShapeModel } from './shape-model';
import { predictWithTta, type DetailedPredict, type TtaSettings } from './tta';

export interface PostprocessedLandmarks extends PredictedLandmarks {
  /** Per landmark: replaced by the shape prior (all false when it is off). */
  replaced: boolean[];
}

/** The TTA views of a profile, shifts in whole cells of its input size. */
export function ttaSettingsOf(tta: PostprocessProfile['tta'], inputSize: number): TtaSettings {
  return { scales: tta.scales, shifts: tta.shiftFractions.map((f) => Math.max(1, Math.round(f * inputSize))), rotationsDeg: tta.rotationsDeg };
}

/** Fewest landmarks and shapes a shape model is built from: a similarity fit of fewer points leaves no shape to model. */
export const SHAPE_PRIOR_MIN_LANDMARKS = 3;
export const SHAPE_PRIOR_MIN_SHAPES = 3;

/**
 * The shape model of a run: the template's true landmarks and every other training image's
 * pseudo-label; undefined (the prior is skipped) below SHAPE_PRIOR_MIN_LANDMARKS landmarks or
 * SHAPE_PRIOR_MIN_SHAPES shapes, e.g. a site whose only training image is its template.
 */
export function buildRunShapeModel(profile: Profile, templateLandmarks: readonly PointYX[], pseudoLabels: ReadonlyArray<readonly PointYX[]>): ShapeModel | undefined {
  if (templateLandmarks.length < SHAPE_PRIOR_MIN_LANDMARKS || pseudoLabels.length + 1 < SHAPE_PRIOR_MIN_SHAPES) return undefined;
  const { varianceKept, maxModes, trimFraction } = postprocessOf(profile).shapePrior;
  return buildShapeModel([templateLandmarks, ...pseudoLabels].map((s) => s.map(([y, x]): PointYX => [y, x])), { varianceKept, maxModes, trimFraction });
}

/**
 * Predicts `images` with `predict` and post-processes as the profile says. The shape prior is
 * applied when the profile has it on and the run has a model (`buildRunShapeModel` may have
 * skipped it); evaluation and predict pass the same stored model.
 */
export async function predictPostprocessed(
  predict: DetailedPredict, images: readonly GrayImage[], profile: Profile, shapeModel?: ShapeModel,
): Promise<PostprocessedLandmarks[]> {
  const pp = postprocessOf(profile);
  const size = profile.inputSize;
  const raw = pp.tta.enabled
    ? await predictWithTta(predict, images, ttaSettingsOf(pp.tta, size), diskRadius(size, profile.tpl.radiusFraction))
    : await predict(images);
  if (!pp.shapePrior.enabled || !shapeModel) return raw.map((r) => ({ ...r, replaced: r.landmarks.map(() => false) }));
  const { replaceResidualFraction, maxSd, iterations } = pp.shapePrior;
  return raw.map((r) => {
    const fit = fitShapeModel(shapeModel, r.landmarks, r.confidence, { replaceResidual: replaceResidualFraction * size, maxSd, iterations });
    const clamp = (v: number) => Math.min(size - 1, Math.max(0, v));
    return {
      ...r,
      landmarks: fit.landmarks.map(([y, x]): PointYX => [clamp(y), clamp(x)]),
      confidence: r.confidence.map((c, j) => (fit.replaced[j] ? 0 : c)),
      replaced: fit.replaced,
    };
  });
}
