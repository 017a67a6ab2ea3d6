/**
 * Which pseudo-labels a training stage learns from when its profile sets a round-trip limit
 * (profile.tpl.maxRoundTrip, profile.refine.maxRoundTrip): each image's labels are matched back
 * into the template with the run's SSL weights on the working grid (ml/ssl/round-trip.ts); a
 * label whose round trip ends farther than the limit does not train.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { LeftOutLabels, TrainOutput, TrainSupervisedInput } from '../contracts/types';
import { DatasetReader } from '../infra/dataset/reader';
import { roundTripMask, SslMatcher } from '../ml/ssl';
import type { GrayImage, PointYX } from '../ml/types';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';
import { throwIfCancelled } from './progress';

export interface RoundTripStage {
  /** The activity and profile field, for messages: 'trainSupervised' / 'profile.tpl.maxRoundTrip'. */
  activity: string;
  field: string;
  /** Heartbeat details while matching: the stage has not started training. */
  heartbeat: { stage: string; totalSteps: number };
  /** For the log lines: 'TPL' / 'refinement'. */
  label: string;
}

/** Which labels train (mask[image][landmark]) and how many were left out, for the stage's output. */
export interface LabelMask {
  mask: boolean[][];
  summary: LeftOutLabels;
}

/** A training stage's round-trip filter. */
export interface RoundTripFilter {
  /** Into the stage's fingerprint: the mask comes from the SSL weights (other weights, other training data). */
  fingerprint: { sslWeights?: string };
  /**
   * The mask of `labels` (one entry per id), undefined without a limit. Called in the stage's
   * `prepare`, after the training loop's done-check, so a retry that finds the stage done skips the
   * matching and returns the count stored with the weights. `images`: the ids' images at
   * profile.inputSize when the stage holds them already (TPL); else read per batch.
   */
  mask(labels: ReadonlyMap<string, PointYX[]>, images?: readonly GrayImage[]): Promise<LabelMask | undefined>;
}

/** The filter of a stage whose limit is `maxRoundTrip`; absent = every pseudo-label trains. */
export function roundTripFilter(deps: ActivityDeps, input: TrainSupervisedInput, ids: readonly string[], maxRoundTrip: number | undefined, stage: RoundTripStage): RoundTripFilter {
  if (maxRoundTrip === undefined) return { fingerprint: {}, mask: async () => undefined };
  return {
    fingerprint: { sslWeights: input.sslWeights?.sha256 },
    mask: (labels, images) => roundTripMaskOf(deps, input, ids, labels, maxRoundTrip, stage, images),
  };
}

/** The output field of a masked stage (`leftOutLabels`), none without a mask. */
export function leftOutOf(masked: LabelMask | undefined): Pick<TrainOutput, 'leftOutLabels'> {
  return masked ? { leftOutLabels: masked.summary } : {};
}

/** The trainer option of a masked stage (`labelMask`), none without a mask. */
export function labelMaskOf(masked: LabelMask | undefined): { labelMask?: boolean[][] } {
  return masked ? { labelMask: masked.mask } : {};
}

async function roundTripMaskOf(
  deps: ActivityDeps, input: TrainSupervisedInput, ids: readonly string[], labels: ReadonlyMap<string, PointYX[]>, maxRoundTrip: number, stage: RoundTripStage,
  images: readonly GrayImage[] | undefined,
): Promise<LabelMask> {
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
      load: async (a, b) => images?.slice(a, b) ?? reader.images(profile.inputSize, ids.slice(a, b)),
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
