/**
 * TEST-ONLY workflow bundle for the replay check (docs/reliability.md#f10): `cc2dPipeline` with the
 * real pipeline's opening (stage tracker, search attributes, the ingest stage) but its first two
 * activities reordered: plan is scheduled before ingest. Replaying a recorded history against it
 * must fail with a nondeterminism error about those activities; if it did not, the replay test
 * would prove nothing.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { CpuActivities } from '../../../activities';
import { GPU_TASK_QUEUE } from '../../../infra/config/names';
import type { PipelineInput } from '../../../infra/config/run-config';
import { cpuOptions, ingestOptions } from '../../../workflows/activity-options';
import { StageTracker } from '../../../workflows/stage-tracker';

export async function cc2dPipeline(input: PipelineInput): Promise<unknown> {
  const { config, profile } = input;
  const runId = workflowInfo().workflowId;
  const hb = config.heartbeatTimeoutSeconds;
  const ingest = proxyActivities<CpuActivities>(ingestOptions(hb, config.taskQueues));
  const cpu = proxyActivities<CpuActivities>(cpuOptions(hb, config.taskQueues));
  const tracker = new StageTracker(runId);
  tracker.start(config.site, profile.name, config.taskQueues?.gpu ?? GPU_TASK_QUEUE);
  return tracker.stage('ingest', () =>
    Promise.all([
      cpu.planRun({ runId, datasetVersion: config.dataset.version ?? 'unknown', config, inputSize: profile.inputSize }),
      ingest.ingestDataset({ datasetDir: config.dataset.dir ?? '', sizes: [profile.inputSize], site: config.site }),
    ]),
  );
}
