/**
 * The final model's landmarks on the working grid, as evaluation scores them and `cc2d predict`
 * returns them: TPL, then the profile's post-processing (test-time augmentation, the shape prior),
 * then the refinement stage when the profile has one and its weights are given (each point refined
 * on the fine grid, profile.refine.inputSize, and moved back to the working grid unrounded).
 * Evaluation and predict both call this, so their landmarks cannot drift apart.
 *
 * Refinement moves points only: peak, agreement, confidence and `replaced` stay the
 * post-processing's (a refined landmark keeps its TPL / shape-prior confidence).
 */
import { predictPostprocessed, type PostprocessedLandmarks, type ShapeModel } from './postprocess';
import type { Profile } from './profiles';
import { createRefinePredictor, rescalePoint } from './refine';
import { createTplPredictor } from './tpl';
import type { GrayImage } from './types';

export interface FinalLandmarkPredictor {
  /** The fine grid's size when the refinement stage applies (then `predict` needs the images at that size), else undefined. */
  readonly fineSize: number | undefined;
  /**
   * Landmarks of `images` (profile.inputSize); `fineImages` gives the same images at the size it
   * is passed (`fineSize`), in the same order, and is called only when the refinement stage applies.
   */
  predict(images: readonly GrayImage[], fineImages: (size: number) => Promise<readonly GrayImage[]>): Promise<PostprocessedLandmarks[]>;
  dispose(): void;
}

export function createFinalLandmarkPredictor(input: {
  profile: Profile;
  tplWeights: Uint8Array;
  /** The refinement stage's weights; ignored when the profile has no refinement stage. */
  refineWeights?: Uint8Array;
  /** The run's shape model (the prior is skipped without it). */
  shapeModel?: ShapeModel;
  landmarkCount: number;
}): FinalLandmarkPredictor {
  const { profile, landmarkCount } = input;
  const size = profile.inputSize;
  const predictor = createTplPredictor({ profile, weights: input.tplWeights, landmarkCount });
  let refiner;
  try {
    refiner = input.refineWeights && profile.refine ? createRefinePredictor({ refine: profile.refine, weights: input.refineWeights, landmarkCount }) : undefined;
  } catch (err) {
    predictor.dispose();
    throw err;
  }
  const fineSize = refiner ? profile.refine!.inputSize : undefined;
  return {
    fineSize,
    async predict(images, fineImages) {
      const processed = await predictPostprocessed((x) => predictor.predictDetailed(x), images, profile, input.shapeModel);
      if (!refiner || fineSize === undefined) return processed;
      const fine = await fineImages(fineSize);
      if (fine.length !== images.length) throw new Error(`final landmarks: ${images.length} images but ${fine.length} fine images`);
      const refined = await refiner.refine(fine, processed.map((p) => p.landmarks.map((pt) => rescalePoint(pt, size, fineSize))));
      return processed.map((p, i) => ({ ...p, landmarks: refined[i]!.map((pt) => rescalePoint(pt, fineSize, size)) }));
    },
    dispose() {
      predictor.dispose();
      refiner?.dispose();
    },
  };
}
