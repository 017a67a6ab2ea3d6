/**
 * `trainSelfSupervised` (GPU queue): stage I, CC2D-SSL on the run's training images (docs/method.md#ssl).
 * Loads the working images from the dataset version, trains with ml/ssl, checkpoints every
 * profile.ssl.checkpointEvery steps and resumes from the heartbeat's checkpoint on retry
 * (see ./training-loop.ts); with `continueFrom` and no checkpoint of its own, starts from that
 * earlier run's checkpoint (infra/cache/ssl-continuation.ts). Returns the content-addressed weights key.
 */
import { Context } from '@temporalio/activity';
import type { TrainOutput, TrainSelfSupervisedInput } from '../contracts/types';
import { decodeBackbone } from '../infra/config/backbone-weights';
import { DatasetReader } from '../infra/dataset/reader';
import { createSslTrainer } from '../ml/ssl';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';
import { runTraining } from './training-loop';

export function createTrainSelfSupervised(deps: ActivityDeps) {
  return async function trainSelfSupervised(input: TrainSelfSupervisedInput): Promise<TrainOutput> {
    const { profile, seed, trainIds, runId, datasetVersion } = input;
    const store = retryingStore(deps.store);
    const reader = new DatasetReader(store, datasetVersion);
    const ctx = Context.current();
    return runTraining(deps, {
      kind: 'ssl',
      runId,
      fingerprintOf: {
        stage: 'ssl', datasetVersion, trainIds, seed, inputSize: profile.inputSize, ssl: profile.ssl,
        ...(input.backboneWeights ? { backboneWeights: input.backboneWeights.sha256 } : {}),
      },
      checkpointEvery: profile.ssl.checkpointEvery,
      ...(input.continueFrom ? { continueFrom: input.continueFrom } : {}),
      prepare: async () => ({
        backboneWeights: input.backboneWeights ? decodeBackbone(await store.get(input.backboneWeights.key, input.backboneWeights.sha256)) : undefined,
        images: await reader.images(profile.inputSize, trainIds, (done) => ctx.heartbeat({ stage: 'ssl', step: 0, totalSteps: profile.ssl.steps, loading: done })),
      }),
      createTrainer: (d, checkpoint) =>
        createSslTrainer({ profile, images: d.images, seed, ...(checkpoint ? { checkpoint } : {}), ...(d.backboneWeights ? { backboneWeights: d.backboneWeights } : {}) }),
    });
  };
}
