/**
 * The SSL stage alone ("CC2D-SSL") on a run's test images: every test image matched
 * against the run's template (working image + working-grid GT, as pseudo-labelling does) by
 * cascade matching with the SSL weights, in chunks, then scored like the final model
 * (ml/metrics `scoreTestPredictions`). One function, two callers: the `evaluateModel` activity
 * and `cc2d eval --compute-ssl` for finished runs.
 */
import { scoreTestPredictions, testIdsOf, type StageScores } from '../../ml/metrics';
import type { Profile } from '../../ml/profiles';
import { prototypeSettingsOf, SslMatcher } from '../../ml/ssl';
import type { PointYX } from '../../ml/types';
import type { DatasetReader } from '../dataset/reader';

/** Test images per matching / prediction call: a heartbeat and a cancellation check between chunks. */
export const STAGE_CHUNK = 8;

export interface SslStageInput {
  reader: DatasetReader;
  profile: Profile;
  /** The run's SSL inference weights (bytes of `runs/<run>/ssl/weights-<sha256>.bin`). */
  weights: Uint8Array;
  templateId: string;
  testSplits: Record<string, string[]>;
  /**
   * The run's unlabelled training images (template excluded) the prototypes are built from, as in
   * pseudo-labelling; required when profile.ssl.prototypeRounds > 0.
   */
  poolIds?: readonly string[];
  /** Before each chunk (e.g. throws when the activity was cancelled). */
  beforeChunk?: () => void;
  /** After each chunk of pool images while the prototypes are built (heartbeats, cancellation). */
  onPoolChunk?: () => void;
  /** After each matched image: (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface SslStageResult extends StageScores {
  stage: 'ssl';
  gridSize: number;
  pixelSpacingMm: number | null;
  /** Matched [y, x] on the working grid per test image. */
  predicted: Map<string, PointYX[]>;
}

/**
 * CC2D-SSL on the test images: cascade matching from the template (the op sequence of
 * `matchTemplate`, docs/method.md#matching; the network is loaded once and each chunk matched with it, which
 * gives the same points as one `matchTemplate` call over all images: matching is per image),
 * scored with `scoreTestPredictions`.
 */
export async function evaluateSslStage(input: SslStageInput): Promise<SslStageResult> {
  const { reader, profile, testSplits } = input;
  const size = profile.inputSize;
  const [labels, description, { template, templateLandmarks }] = await Promise.all([
    reader.labels(), reader.description(), reader.template(input.templateId, size),
  ]);
  const testIds = testIdsOf(testSplits);
  const predicted = new Map<string, PointYX[]>();
  const { rounds, fromLevel } = prototypeSettingsOf(profile.ssl);
  if (rounds > 0 && input.poolIds === undefined) throw new Error(`SSL stage: profile.ssl.prototypeRounds is ${rounds}, but no pool of training ids was given`);
  const matcher = SslMatcher.create(profile, input.weights);
  try {
    const pool = rounds > 0 ? await reader.images(size, [...input.poolIds!]) : [];
    const desc = await matcher.describePrototypes(template, templateLandmarks, pool, { rounds, fromLevel }, input.onPoolChunk);
    for (let i = 0; i < testIds.length; i += STAGE_CHUNK) {
      input.beforeChunk?.();
      const ids = testIds.slice(i, i + STAGE_CHUNK);
      const points = await matcher.matchDescribed(desc, await reader.images(size, ids), (done) => input.onProgress?.(i + done, testIds.length));
      ids.forEach((id, j) => predicted.set(id, points[j]!));
    }
  } finally {
    matcher.dispose();
  }
  return { stage: 'ssl', gridSize: size, pixelSpacingMm: description.pixelSpacingMm, predicted, ...scoreTestPredictions({ labels, predicted, testSplits, gridSize: size }) };
}

/** How the SSL stage is stored (in the metrics JSON as `sslStage`, and by `cc2d eval --compute-ssl`). */
export function sslStageDocument(r: SslStageResult, weights: { key: string; sha256: string }, templateId: string) {
  return {
    stage: 'ssl' as const,
    method: 'CC2D-SSL: cascade template matching only (no TPL), docs/method.md#matching',
    weights: { key: weights.key, sha256: weights.sha256 },
    templateId,
    headlineSet: r.headlineSet,
    summary: r.summary,
    protocols: r.protocols,
    errors: r.errors,
  };
}
