/** Landmark evaluation (docs/method.md#evaluation): radial errors under protocols A and B, MRE / SDR / std, per split. */
export { gridToOriginalXy, radialErrorsMm, protocolATruth, meanOfDoctors, ISBI_SPACING_MM } from './radial-error';
export type { EvalProtocol, LandmarkEvalCase, RadialErrorOptions } from './radial-error';
export { errorStats, evaluateLandmarks, evaluateBySplit, isbiTestSplits, outlierPercent, sdrPercent, OUTLIER_RADIUS_MM, SDR_RADII_MM } from './summary';
export type { ErrorStats, EvaluationOptions, EvaluationReport, SdrEntry, SplitEvaluation, SplitReport, SplitSpec } from './summary';
export { NO_METRICS_REASON, PROTOCOLS, errorUnitOf, showsOutliers, unitLabel, evalCase, scoreTestPredictions, summaryOf, testIdsOf, testSetSpecs } from './scoring';
export type { ErrorUnit, ImageErrorList, ImageTruth, LabelledImages, MetricSummary, StageErrors, StageScores } from './scoring';
