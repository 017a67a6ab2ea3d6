/** Per-run HTML report: input schema, renderer and the helpers callers need to build the input. */
export { renderRunReport, compressIds, formatDuration, imageMres, protocolText } from './render';
export { renderOverlay, overlaySvg } from './overlay';
export {
  parseRunReportInput,
  RunReportInputSchema,
  LossLogSchema,
  type RunReportInput,
  type RunReportData,
  type LossLog,
  type LossPoint,
  type ImageErrors,
  type SetErrors,
  type ProtocolErrors,
  type Overlay,
  type Lineage,
  type PredictedImage,
  type Promotion,
} from './types';
export { pickOverlayCases, summarizeErrors, sdrCurve, histogram, splitLabel } from './stats';
export { ISBI_LANDMARK_NAMES, landmarkNames } from './landmarks';
export { PAPER_REFERENCE } from './reference';
export { escapeHtml } from './html';
export { buildRunReportInput, writeRunReportHtml, type BuildReportArgs } from './build-input';
