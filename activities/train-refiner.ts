/**
 * `trainRefiner` (GPU queue): the full-resolution refinement stage (ml/refine) on the fine
 * working images (profile.refine.inputSize) of the training images, with the run's pseudo-labels
 * moved onto that grid, plus the template with its true landmarks. Same checkpoint/resume,
 * heartbeat and completion-marker design as the other training stages (./training-loop).
 */
import { Context } from '@temporalio/activity';
import type { TrainOutput, TrainRefinerInput } from '../contracts/types';
import { DatasetInvalidError } from '../infra/errors';
import { DatasetReader } from '../infra/dataset/reader';
import { createRefineTrainer, rescalePoint } from '../ml/refine';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';
import { labelMaskOf, leftOutOf, roundTripFilter } from './round-trip-mask';
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
    const fine = refine.inputSize;
    const filter = roundTripFilter(deps, input, ids, refine.maxRoundTrip ?? undefined, {
      activity: 'trainRefiner', field: 'profile.refine.maxRoundTrip', heartbeat: { stage: 'refine', totalSteps: refine.steps }, label: 'refinement',
    });
    return runTraining(deps, {
      kind: 'refine',
      runId,
      fingerprintOf: {
        stage: 'refine', datasetVersion, trainIds, templateId, seed, inputSize: profile.inputSize, refine,
        pseudoLabels: input.pseudoLabels.map((r) => r.sha256),
        ...filter.fingerprint,
      },
      checkpointEvery: refine.checkpointEvery,
      prepare: async () => {
        const merged = await readPseudoLabels(store, input.pseudoLabels, ids);
        const [images, [template], templateLandmarks] = await Promise.all([
          reader.images(fine, ids, (done) => ctx.heartbeat({ stage: 'refine', step: 0, totalSteps: refine.steps, loading: done })),
          reader.images(fine, [templateId]),
          reader.workingLandmarks(templateId, fine),
        ]);
        const labels = ids.map((id) => merged.get(id)!.map((p) => rescalePoint(p, profile.inputSize, fine)));
        // The round trips are matched on the working grid (profile.inputSize), not on these fine images.
        const masked = await filter.mask(merged);
        return { images, labels, template: template!, templateLandmarks, masked };
      },
      outputExtras: (d) => leftOutOf(d.masked),
      createTrainer: (d, checkpoint) =>
        createRefineTrainer({
          refine, images: d.images, labels: d.labels, template: d.template, templateLandmarks: d.templateLandmarks, seed,
          ...labelMaskOf(d.masked), ...(checkpoint ? { checkpoint } : {}),
        }),
    });
  };
}
