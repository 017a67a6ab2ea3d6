/**
 * `cc2dSuggestTemplate` (`cc2d site suggest-template`): which of a site's images to label as its
 * one template. SSL weights on the site's images come from `--run`, else from the stage cache
 * (an earlier published run's SSL stage with the same training images, seed and SSL config), else
 * are trained here by the pipeline's own `trainSelfSupervised` (GPU queue; stored under
 * `runs/<this workflow id>/ssl/`) and recorded in the stage cache, so the site's first run after
 * labelling the template reuses them (the SSL key reads images, not labels). Then `rankTemplates` (CPU queue) ranks the images and
 * stores the ranking under the site's keys. Only keys, hashes and ids pass through.
 */
import { patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { CpuActivities, GpuActivities } from '../activities';
import type { ArtifactRef, SuggestTemplateInput, SuggestTemplateResult } from '../contracts/types';
import { cpuOptions, lightOptions, trainingOptions } from './activity-options';

export async function cc2dSuggestTemplate(input: SuggestTemplateInput): Promise<SuggestTemplateResult> {
  const queues = input.taskQueues ?? {};
  const train = proxyActivities<GpuActivities>(trainingOptions(input.heartbeatTimeoutSeconds, queues));
  const cpu = proxyActivities<CpuActivities>(cpuOptions(input.heartbeatTimeoutSeconds, queues));
  const light = proxyActivities<CpuActivities>(lightOptions(queues));
  const runId = workflowInfo().workflowId;
  const { datasetVersion, profile, seed, trainIds } = input;

  let sslWeights: Pick<ArtifactRef, 'key' | 'sha256'>;
  let sslFrom: SuggestTemplateResult['sslFrom'];
  let sslSource: string;
  if (input.sslWeights !== undefined) {
    [sslWeights, sslFrom, sslSource] = [input.sslWeights, 'run', input.sslRunId ?? 'given'];
  } else {
    // The SSL key reads no template: a placeholder id and one shard leave it unchanged.
    const { hit, continueFrom } = await light.lookupCache({ stage: 'ssl', runId, datasetVersion, profile, seed, trainIds, templateId: '', shardCount: 1 });
    if (hit?.train) {
      [sslWeights, sslFrom, sslSource] = [hit.train.weights, 'cache', hit.sourceRunId];
    } else {
      const trained = await train.trainSelfSupervised({ runId, datasetVersion, profile, seed, trainIds, ...(continueFrom ? { continueFrom } : {}) });
      // Only in executions started with this code, so histories recorded before it replay.
      if (patched('ssl-key-images')) await light.recordSuggestedSsl({ runId, datasetVersion, profile, seed, trainIds, ssl: trained });
      [sslWeights, sslFrom, sslSource] = [trained.weights, 'trained', runId];
    }
  }
  const ranked = await cpu.rankTemplates({ site: input.site, datasetVersion, profile, sslWeights, sslSource, candidateIds: input.candidateIds });
  return { ...ranked, site: input.site, datasetVersion, sslWeights, sslFrom, sslSource };
}
