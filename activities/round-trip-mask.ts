/**
 * Which pseudo-labels a training stage learns from when its profile sets a round-trip limit
 * (profile.tpl.maxRoundTrip, profile.refine.maxRoundTrip): each image's labels are matched back
 * into the template with the run's SSL weights on the working grid (ml/ssl/round-trip.ts); a
 * label whose round trip ends farther than the limit does not train.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { LeftOutLabels, TrainSupervisedInput } from '../contracts/types';
import { DatasetReader } from '../infra/dataset/reader';
import { roundTripMask, SslMatcher } from '../ml/ssl';
import type { GrayImage, PointYX } from '../ml/types';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';
import { throwIfCancelled } from './progress';
import type { TrainingRun } from './training-loop';

export interface RoundTripStage {
  /** The activity and profile field, for messages: 'trainSupervised' / 'profile.tpl.maxRoundTrip'. */
  activity: string;
  field: string;
  /** Heartbeat details while matching: the stage has not started training. */
  heartbeat: { stage: string; totalSteps: number };
  /** For the log lines: 'TPL' / 'refinement'. */
  label: string;
  /** The images of `ids` at profile.inputSize when the stage already holds them (TPL); else read per batch. */
  images?: readonly GrayImage[];
}

/** A training stage's round-trip filter, as its `runTraining` call uses it. */
export interface RoundTripFilter {
  /** Into the stage's fingerprint: the mask comes from the SSL weights (other weights, other training data). */
  fingerprint: { sslWeights?: string };
  /**
   * The mask is computed in `prepare`, after the training loop's done-check, so a retry that finds
   * the stage done skips the matching and returns the count stored with the weights.
   */
  run: Pick<TrainingRun, 'prepare' | 'outputExtras'>;
  /** Into the trainer's options, once `prepare` ran. */
  trainerOptions(): { labelMask?: boolean[][] };
}

/** The filter of a stage whose limit is `maxRoundTrip`; absent = every pseudo-label trains (all fields empty). */
export function roundTripFilter(
  deps: ActivityDeps, input: TrainSupervisedInput, ids: readonly string[], labels: ReadonlyMap<string, PointYX[]>, maxRoundTrip: number | undefined, stage: RoundTripStage,
): RoundTripFilter {
  if (maxRoundTrip === undefined) return { fingerprint: {}, run: {}, trainerOptions: () => ({}) };
  let masked: { mask: boolean[][]; summary: LeftOutLabels } | undefined;
  return {
    fingerprint: { sslWeights: input.sslWeights?.sha256 },
    run: {
      prepare: async () => {
        masked = await roundTripMaskOf(deps, input, ids, labels, maxRoundTrip, stage);
      },
      outputExtras: () => ({ leftOutLabels: masked!.summary }),
    },
    trainerOptions: () => ({ labelMask: masked!.mask }),
  };
}

async function roundTripMaskOf(
  deps: ActivityDeps, input: TrainSupervisedInput, ids: readonly string[], labels: ReadonlyMap<string, PointYX[]>, maxRoundTrip: number, stage: RoundTripStage,
): Promise<{ mask: boolean[][]; summary: LeftOutLabels }> {
  if (!input.sslWeights) {
    throw ApplicationFailure.nonRetryable(`${stage.activity}: ${stage.field} is set but the input has no sslWeights to match the round trips with`, 'InvalidInput');
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
      load: async (a, b) => stage.images?.slice(a, b) ?? reader.images(profile.inputSize, ids.slice(a, b)),
      onProgress: (done, total) => {
        throwIfCancelled(ctx);
        ctx.heartbeat({ ...stage.heartbeat, step: 0, roundTrips: `${done}/${total}` });
      },
    });
    const of = mask.length * templateLandmarks.length;
    if (of > 0 && leftOut === of) ctx.log.warn(`${stage.label}: every pseudo-label is left out by its round trip; it trains on the template alone`, { maxRoundTrip });
    ctx.log.info(`${stage.label}: pseudo-labels left out by their round trip`, { count: leftOut, of, maxRoundTrip });
    return { mask, summary: { count: leftOut, of, maxRoundTrip } };
  } finally {
    matcher.dispose();
  }
}
