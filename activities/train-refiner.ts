/**
 * `trainRefiner` (GPU queue): the full-resolution refinement stage (ml/refine) on the fine
 * working images (profile.refine.inputSize) of the training images, with the run's pseudo-labels
 * moved onto that grid, plus the template with its true landmarks. Same checkpoint/resume,
 * heartbeat and completion-marker design as the other training stages (./training-loop).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { LeftOutLabels, TrainOutput, TrainRefinerInput } from '../contracts/types';
import { DatasetInvalidError } from '../infra/errors';
import { DatasetReader } from '../infra/dataset/reader';
import { createRefineTrainer, rescalePoint } from '../ml/refine';
import { roundTripMask, SslMatcher } from '../ml/ssl';
import type { PointYX } from '../ml/types';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';
import { throwIfCancelled } from './progress';
import { runTraining } from './training-loop';
import { readPseudoLabels } from './train-supervised';

export function createTrainRefiner(deps: ActivityDeps) {
  return async function trainRefiner(input: TrainRefinerInput): Promise<TrainOutput> {
    const { profile, seed, trainIds, templateId, runId, datasetVersion } = input;
    const refine = profile.refine;
    if (!refine) throw new DatasetInvalidError(['trainRefiner: the profile has no refine settings']);
    const ctx = Context.current();
    const store = retryingStore(deps.store);
    const reader = new DatasetReader(store, datasetVersion);
    // The template trains with its true landmarks only.
    const ids = trainIds.filter((id) => id !== templateId);
    const merged = await readPseudoLabels(store, input.pseudoLabels, ids);
    const fine = refine.inputSize;
    const [images, [template], templateLandmarks] = await Promise.all([
      reader.images(fine, ids, (done) => ctx.heartbeat({ stage: 'refine', step: 0, totalSteps: refine.steps, loading: done })),
      reader.images(fine, [templateId]),
      reader.workingLandmarks(templateId, fine),
    ]);
    const labels = ids.map((id) => merged.get(id)!.map((p) => rescalePoint(p, profile.inputSize, fine)));
    const maxRoundTrip = refine.maxRoundTrip ?? undefined;
    const masked = maxRoundTrip === undefined ? undefined : await roundTripMaskOf(deps, input, ids, merged, maxRoundTrip);
    return runTraining(deps, {
      kind: 'refine',
      runId,
      fingerprintOf: {
        stage: 'refine', datasetVersion, trainIds, templateId, seed, inputSize: profile.inputSize, refine,
        pseudoLabels: input.pseudoLabels.map((r) => r.sha256),
        // The mask comes from the SSL weights: other weights, other training data.
        ...(masked ? { sslWeights: input.sslWeights!.sha256 } : {}),
      },
      checkpointEvery: refine.checkpointEvery,
      createTrainer: (checkpoint) =>
        createRefineTrainer({
          refine, images, labels, template: template!, templateLandmarks, seed,
          ...(masked ? { labelMask: masked.mask } : {}), ...(checkpoint ? { checkpoint } : {}),
        }),
      // A retry that finds the stage done returns the count stored with the weights.
      ...(masked ? { outputExtras: { leftOutLabels: masked.summary } } : {}),
    });
  };
}

/**
 * Which pseudo-labels train (profile.refine.maxRoundTrip): each image's labels matched back into
 * the template with the run's SSL weights on the working grid (ml/ssl/round-trip.ts).
 */
async function roundTripMaskOf(deps: ActivityDeps, input: TrainRefinerInput, ids: readonly string[], labels: ReadonlyMap<string, PointYX[]>, maxRoundTrip: number): Promise<{ mask: boolean[][]; summary: LeftOutLabels }> {
  if (!input.sslWeights) {
    throw ApplicationFailure.nonRetryable('trainRefiner: profile.refine.maxRoundTrip is set but the input has no sslWeights to match the round trips with', 'InvalidInput');
  }
  const ctx = Context.current();
  const { profile, templateId } = input;
  const store = retryingStore(deps.store);
  const reader = new DatasetReader(store, input.datasetVersion);
  const [weights, { template, templateLandmarks }] = await Promise.all([
    store.get(input.sslWeights.key, input.sslWeights.sha256),
    reader.template(templateId, profile.inputSize),
  ]);
  const matcher = SslMatcher.create(profile, weights);
  try {
    const { mask, leftOut } = await roundTripMask({
      matcher, template, templateLandmarks, maxRoundTrip,
      labels: ids.map((id) => labels.get(id)!),
      load: (a, b) => reader.images(profile.inputSize, ids.slice(a, b)),
      onProgress: (done, total) => {
        throwIfCancelled(ctx);
        // The same heartbeat shape as the image loading above: training has not started.
        ctx.heartbeat({ stage: 'refine', step: 0, totalSteps: profile.refine!.steps, roundTrips: `${done}/${total}` });
      },
    });
    const of = mask.length * templateLandmarks.length;
    if (of > 0 && leftOut === of) ctx.log.warn('refinement: every pseudo-label is left out by its round trip; the refiner trains on the template alone', { maxRoundTrip });
    ctx.log.info('refinement: pseudo-labels left out by their round trip', { count: leftOut, of, maxRoundTrip });
    return { mask, summary: { count: leftOut, of, maxRoundTrip } };
  } finally {
    matcher.dispose();
  }
}
