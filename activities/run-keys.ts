/**
 * Where a run's objects live in the artifact store (keys are relative to the stack's bucket
 * prefix). Everything of a run is under `runs/<runId>/`; artifacts are content-addressed (the
 * sha256 is in the key), checkpoints are attempt-scoped (`<step>-a<attempt>`), and the run's
 * lineage manifest `runs/<runId>/manifest.json` is written LAST: a run is published iff it exists.
 */
export type TrainKind = 'ssl' | 'tpl';

/** Workflow ids may hold characters that make awkward keys (schedules append a timestamp). */
export function runSegment(runId: string): string {
  return runId.replace(/[^A-Za-z0-9._-]/g, '_');
}

export function runPrefix(runId: string): string {
  return `runs/${runSegment(runId)}`;
}

export const runKeys = {
  prefix: runPrefix,
  checkpointDir: (runId: string, kind: TrainKind) => `${runPrefix(runId)}/${kind}/ckpt`,
  checkpoint: (runId: string, kind: TrainKind, step: number, attempt: number) => {
    const dir = `${runPrefix(runId)}/${kind}/ckpt/${String(step).padStart(9, '0')}-a${attempt}`;
    return { blob: `${dir}/state.ckpt`, lossLog: `${dir}/loss.json`, manifest: `${dir}/manifest.json` };
  },
  /** Completion marker of a training stage (lets a retry after a lost completion return at once). */
  trainDone: (runId: string, kind: TrainKind) => `${runPrefix(runId)}/${kind}/done.json`,
  lossLog: (runId: string, kind: TrainKind, sha256: string) => `${runPrefix(runId)}/${kind}/loss-${sha256}.json`,
  weights: (runId: string, kind: TrainKind, sha256: string) => `${runPrefix(runId)}/${kind}/weights-${sha256}.bin`,
  pseudoLabels: (runId: string, shardIndex: number, shardCount: number, sha256: string) =>
    `${runPrefix(runId)}/pseudo-labels/shard-${shardIndex + 1}-of-${shardCount}-${sha256}.json`,
  metrics: (runId: string, sha256: string) => `${runPrefix(runId)}/eval/metrics-${sha256}.json`,
  predictions: (runId: string, sha256: string) => `${runPrefix(runId)}/eval/predictions-${sha256}.json`,
  /** SSL-stage metrics computed after the run (`cc2d eval --compute-ssl`); not in the run's manifest. */
  sslMetrics: (runId: string, sha256: string) => `${runPrefix(runId)}/eval/ssl-metrics-${sha256}.json`,
  sslMetricsPrefix: (runId: string) => `${runPrefix(runId)}/eval/ssl-metrics-`,
  report: (runId: string, sha256: string) => `${runPrefix(runId)}/report/report-${sha256}.json`,
  /** Written last (publish-by-manifest). */
  manifest: (runId: string) => `${runPrefix(runId)}/manifest.json`,
};
