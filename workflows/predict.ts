/**
 * `cc2dPredict`: one prediction request (`cc2d predict`). The request document is already stored;
 * the workflow fans its images out as shards over the GPU queue (one `predictImages` each), then
 * publishes the exports on the CPU queue, manifest last. It passes S3 keys and counts only.
 * A `progress` query reports images done for the CLI's progress bar.
 */
import { proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CpuActivities, GpuActivities } from '../activities';
import type { PipelineProgress, PredictInput, PredictResult, StageName } from '../contracts/types';
import { cpuOptions, matchingOptions } from './activity-options';
import { progressQuery, stageProgressSignal } from './definitions';

export async function cc2dPredict(input: PredictInput): Promise<PredictResult> {
  const queues = input.taskQueues ?? {};
  const gpu = proxyActivities<GpuActivities>(matchingOptions(input.heartbeatTimeoutSeconds, queues));
  const cpu = proxyActivities<CpuActivities>(cpuOptions(input.heartbeatTimeoutSeconds, queues));

  let stage: StageName = 'predict';
  let shardsDone = 0;
  let imagesDone = 0;
  const imagesTotal = input.imageCount;
  // The latest step signalled by a running shard (shards report their own count; summing the
  // finished ones plus the latest report is exact with one shard and close with several).
  let running = 0;
  setHandler(stageProgressSignal, (p) => {
    if (p.stage === 'predict') running = p.step;
  });
  setHandler(progressQuery, (): PipelineProgress => {
    const step = Math.min(imagesTotal, imagesDone + running);
    return {
      runId: workflowInfo().workflowId, status: 'running', stage, step, totalSteps: imagesTotal, stagesDone: [],
      fraction: stage === 'publish' ? 0.95 : imagesTotal > 0 ? (0.9 * step) / imagesTotal : 0,
      shardsDone, shardCount: input.shardCount,
    };
  });

  const shards = await Promise.all(
    Array.from({ length: input.shardCount }, async (_, shardIndex) => {
      const out = await gpu.predictImages({ request: input.request, shardIndex, shardCount: input.shardCount });
      shardsDone++;
      imagesDone += out.count;
      running = 0;
      return out;
    }),
  );
  stage = 'publish';
  return cpu.publishPredictions({ request: input.request, shards: shards.map((s) => s.shard) });
}
