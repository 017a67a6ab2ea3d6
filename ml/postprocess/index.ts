/** Post-processing of TPL predictions: test-time augmentation and a statistical shape prior. */
export { combineViews, forwardPoint, inversePoint, predictWithTta, ttaViews, warpImage, weightedMedian } from './tta';
export type { DetailedPredict, TtaSettings, ViewTransform } from './tta';
export { alignSimilarity, applySimilarity, buildShapeModel, fitShapeModel, symmetricEigen } from './shape-model';
export type { BuildShapeModelOptions, FitShapeOptions, ShapeFit, ShapeModel } from './shape-model';
export { buildRunShapeModel, predictPostprocessed, SHAPE_PRIOR_MIN_LANDMARKS, SHAPE_PRIOR_MIN_SHAPES, ttaSettingsOf } from './apply';
export type { PostprocessedLandmarks } from './apply';
