export { RefineProfileSchema, REFINE_LANDMARK_MODES, rescalePoint } from './config';
export type { RefineLandmarkMode, RefineProfile } from './config';
export { createRefineTrainer, refineLearningRate, REFINE_TRAIN_KIND, REFINE_WEIGHTS_KIND } from './trainer';
export type { RefineTrainerInput, RefineWeightsMeta } from './trainer';
export { createRefinePredictor } from './predict';
export type { RefinePredictor } from './predict';
