/** Stage II (TPL): multi-task U-Net trained on pseudo-labels, offset-voting inference. */
export { createTplTrainer, tplLearningRate, TPL_TRAIN_KIND, TPL_WEIGHTS_KIND } from './trainer';
export type { TplTrainerInput, TplWeightsMeta } from './trainer';
export { createTplPredictor, predictLandmarks, predictLandmarksDetailed, defaultChunkSize } from './predict';
export type { PredictLandmarksInput, PredictedLandmarks, TplPredictor, TplPredictorInput } from './predict';
export {
  encodeHeatmapOffset, decodeVoting, decodeVotingDetailed, diskRadius, voteCandidates, voteConfidence, writeHeatmapOffset,
} from './codec';
export type { HeatmapOffsetTargets, VoteConfidence, VotingResult } from './codec';
export { tplLoss, focalHeatLoss, maskedL1 } from './loss';
export { defineTplNetwork, tplForward, tplFeatures, tplHeatLogits, tplHeadAtRows, splitTplOutput, HEAT_PRIOR } from './network';
export { tplLossSparse } from './loss';
export { encodeDiskEntries } from './codec';
export type { DiskEntries } from './codec';
