/**
 * `trainSupervised` (GPU queue): stage II, CC2D-TPL (docs/method.md#tpl) on the pseudo-labelled training
 * images plus the template with its true landmarks. Same checkpoint/resume design as stage I.
 */
import { Context } from '@temporalio/activity';
import { PseudoLabelFileSchema } from '../contracts/documents';
import type { ArtifactRef, TrainOutput, TrainSupervisedInput } from '../contracts/types';
import { decodeBackbone } from '../infra/config/backbone-weights';
import type { ObjectStore } from '../infra/storage/object-store';
import { DatasetInvalidError } from '../infra/errors';
import { DatasetReader } from '../infra/dataset/reader';
import { readJson } from '../infra/storage/read-json';
import { createTplTrainer } from '../ml/tpl';
import type { PointYX } from '../ml/types';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';
import { labelMaskOf, leftOutOf, roundTripFilter } from './round-trip-mask';
import { runTraining } from './training-loop';

/** The pseudo-label shards merged by image id; every one of `ids` must have its labels. */
export async function readPseudoLabels(store: ObjectStore, refs: readonly ArtifactRef[], ids: readonly string[]): Promise<Map<string, PointYX[]>> {
  const merged = new Map<string, PointYX[]>();
  for (const ref of refs) {
    const file = await readJson(store, ref, PseudoLabelFileSchema);
    for (const [id, pts] of Object.entries(file.labels)) merged.set(id, pts);
  }
  const missing = ids.filter((id) => !merged.has(id));
  if (missing.length > 0) throw new DatasetInvalidError([`pseudo-labels missing for train ids: ${missing.slice(0, 10).join(', ')}`]);
  return merged;
}

export function createTrainSupervised(deps: ActivityDeps) {
  return async function trainSupervised(input: TrainSupervisedInput): Promise<TrainOutput> {
    const { profile, seed, trainIds, templateId, runId, datasetVersion } = input;
    const ctx = Context.current();
    const store = retryingStore(deps.store);
    const reader = new DatasetReader(store, datasetVersion);
    // trainIds include the template: its pseudo-label is filtered like the others; its true
    // landmarks train in every batch.
    const filter = roundTripFilter(deps, input, trainIds, profile.tpl.maxRoundTrip ?? undefined, {
      activity: 'trainSupervised', field: 'profile.tpl.maxRoundTrip', heartbeat: { stage: 'tpl', totalSteps: profile.tpl.steps }, label: 'TPL',
    });
    return runTraining(deps, {
      kind: 'tpl',
      runId,
      fingerprintOf: {
        stage: 'tpl', datasetVersion, trainIds, templateId, seed, inputSize: profile.inputSize, tpl: profile.tpl,
        pseudoLabels: input.pseudoLabels.map((r) => r.sha256),
        ...(input.backboneWeights ? { backboneWeights: input.backboneWeights.sha256 } : {}),
        ...filter.fingerprint,
      },
      checkpointEvery: profile.tpl.checkpointEvery,
      prepare: async () => {
        const merged = await readPseudoLabels(store, input.pseudoLabels, trainIds);
        const [images, [template], templateLandmarks] = await Promise.all([
          reader.images(profile.inputSize, trainIds, (done) => ctx.heartbeat({ stage: 'tpl', step: 0, totalSteps: profile.tpl.steps, loading: done })),
          reader.images(profile.inputSize, [templateId]),
          reader.workingLandmarks(templateId, profile.inputSize),
        ]);
        const backboneWeights = input.backboneWeights ? decodeBackbone(await store.get(input.backboneWeights.key, input.backboneWeights.sha256)) : undefined;
        const masked = await filter.mask(merged, images);
        return { images, pseudoLabels: trainIds.map((id) => merged.get(id)!), template: template!, templateLandmarks, backboneWeights, masked };
      },
      outputExtras: (d) => leftOutOf(d.masked),
      createTrainer: (d, checkpoint) =>
        createTplTrainer({
          profile, images: d.images, pseudoLabels: d.pseudoLabels, template: d.template, templateLandmarks: d.templateLandmarks, seed,
          ...(checkpoint ? { checkpoint } : {}), ...(d.backboneWeights ? { backboneWeights: d.backboneWeights } : {}), ...labelMaskOf(d.masked),
        }),
    });
  };
}
