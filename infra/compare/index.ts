/** Comparing two published runs: their snapshots (read from the JSON reports) and the pure comparison. */
export { compareRuns, diffJson, type ConfigChange, type Pair, type RunComparison, type RunHeader, type SdrCurves, type SetComparison } from './compare';
export { loadRunSnapshot, readPublishedReport, snapshotOf, ComparableReportSchema, type RunSnapshot } from './snapshot';
