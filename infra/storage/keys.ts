/**
 * The storage key layout: how keys are validated, and where a run's objects live.
 *
 * Object-key validation (path traversal / zip-slip defence).
 * A key is a `/`-separated relative path. It is rejected, never "cleaned", when it (or any
 * percent-decoded or Unicode-normalised form of it) is empty, absolute, has a drive letter,
 * contains a backslash, NUL or another control character, an empty segment (`a//b`, trailing
 * `/`), or a `.` / `..` segment. Rejection happens before any read or write and lists every
 * offender at once (InvalidDatasetKeyError, non-retryable).
 */
import { InvalidDatasetKeyError } from '../errors';

const MAX_KEY_BYTES = 1024;

function shapeProblem(k: string): string | undefined {
  if (k === '') return 'empty';
  if (/[\u0000-\u001f\u007f]/.test(k)) return 'control character';
  if (k.includes('\\')) return 'backslash';
  if (k.startsWith('/')) return 'absolute';
  if (/^[A-Za-z]:/.test(k)) return 'drive letter';
  const segments = k.split('/');
  if (segments.some((s) => s === '')) return 'empty segment';
  if (segments.some((s) => s === '.' || s === '..')) return 'dot segment';
  return undefined;
}

/** Why `key` is not an acceptable relative object key, or undefined when it is. */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return 'not a string';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} bytes`;
  // Check the key as given, then every decoding a later layer might apply: repeated
  // percent-decoding (%2e%2e, %252e...) and NFKC (fullwidth dots and solidus).
  const forms = new Set<string>([key]);
  let cur = key;
  for (let i = 0; i < 3 && cur.includes('%'); i++) {
    let next: string;
    try {
      next = decodeURIComponent(cur);
    } catch {
      break; // a literal '%' (e.g. "100%.png"): no decoded reading exists, nothing to check
    }
    if (next === cur) break;
    forms.add(next);
    cur = next;
  }
  for (const f of [...forms]) forms.add(f.normalize('NFKC'));
  for (const f of forms) {
    const p = shapeProblem(f);
    if (p) return f === key ? p : `${p} after decoding`;
  }
  return undefined;
}

function show(key: unknown): string {
  return JSON.stringify(typeof key === 'string' ? key : String(key));
}

/** Throws InvalidDatasetKeyError listing every offending key (with the reason). */
export function assertValidKeys(keys: readonly unknown[]): void {
  const offenders: string[] = [];
  for (const k of keys) {
    const p = keyProblem(k);
    if (p) offenders.push(`${show(k)} (${p})`);
  }
  if (offenders.length > 0) throw new InvalidDatasetKeyError(offenders);
}

/** Validates a prefix: '' or a valid key (a trailing slash is tolerated and removed). */
export function normalizePrefix(prefix: string): string {
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (p !== '') assertValidKeys([p]);
  return p;
}

/** Joins validated parts with `/`; every part must itself be a valid key ('' parts are skipped). */
export function joinKey(...parts: string[]): string {
  const nonEmpty = parts.filter((p) => p !== '');
  assertValidKeys(nonEmpty);
  return nonEmpty.join('/');
}

/**
 * Where a run's objects live in the artifact store (keys are relative to the stack's bucket
 * prefix). Everything of a run is under `runs/<runId>/`; artifacts are content-addressed (the
 * sha256 is in the key), checkpoints are attempt-scoped (`<step>-a<attempt>`), and the run's
 * lineage manifest `runs/<runId>/manifest.json` is written LAST: a run is published iff it exists.
 * Dataset versions live under `datasets/<version>/` (infra/dataset/published.ts).
 */
export type TrainKind = 'ssl' | 'tpl' | 'refine';

/** Workflow ids may hold characters that make awkward keys (schedules append a timestamp). */
export function runSegment(runId: string): string {
  return runId.replace(/[^A-Za-z0-9._-]/g, '_');
}

export function runPrefix(runId: string): string {
  return `runs/${runSegment(runId)}`;
}

/** Key of the HTML report under a run prefix (`runs/<run>`); fixed, so the dashboard finds it by run id. */
export function reportHtmlKeyFor(prefix: string): string {
  return `${prefix}/report/report.html`;
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
  shapeModel: (runId: string, sha256: string) => `${runPrefix(runId)}/eval/shape-model-${sha256}.json`,
  /** SSL-stage metrics computed after the run (`cc2d eval --compute-ssl`); not in the run's manifest. */
  sslMetrics: (runId: string, sha256: string) => `${runPrefix(runId)}/eval/ssl-metrics-${sha256}.json`,
  sslMetricsPrefix: (runId: string) => `${runPrefix(runId)}/eval/ssl-metrics-`,
  report: (runId: string, sha256: string) => `${runPrefix(runId)}/report/report-${sha256}.json`,
  reportHtml: (runId: string) => reportHtmlKeyFor(runPrefix(runId)),
  /** Written last (publish-by-manifest). */
  manifest: (runId: string) => `${runPrefix(runId)}/manifest.json`,
};

/**
 * Where a site's objects live: `sites/<site>/champion.json` (the site's current model, when one
 * was chosen) and the results of prediction requests, `sites/<site>/predictions/<request sha>/`
 * (published by manifest), with their input images at the model's size under
 * `sites/<site>/predictions/inputs/` (content-addressed, shared by requests).
 */
export const siteKeys = {
  prefix: (site: string) => joinKey('sites', site),
  champion: (site: string) => joinKey('sites', site, 'champion.json'),
  predictions: (site: string, requestSha256: string) => joinKey('sites', site, 'predictions', requestSha256),
  predictionInput: (site: string, sha256: string) => joinKey('sites', site, 'predictions', 'inputs', `${sha256}.png`),
  /** A template ranking (`cc2d site suggest-template`), content-addressed. */
  templateRanking: (site: string, sha256: string) => joinKey('sites', site, 'template-ranking', `${sha256}.json`),
};
