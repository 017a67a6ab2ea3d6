/**
 * The client side of `cc2d site suggest-template NAME` (cli/commands/site.ts): which of a
 * registered site's images to label as its one template, before anything is labelled. Starts
 * (or joins) the `cc2dSuggestTemplate` workflow: SSL weights from `--run`, else from an earlier
 * run's cached SSL stage on the same images, else trained on the site's images; then the images
 * are ranked by a label-free score (ml/ssl/template-ranking.ts) and the ranking is stored under
 * `sites/<NAME>/template-ranking/`.
 */
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { RunSslWeightsReportSchema } from '../contracts/documents';
import type { SuggestTemplateInput, SuggestTemplateResult } from '../contracts/types';
import { readPublishedReport } from '../infra/compare/snapshot';
import { SUGGEST_TEMPLATE_WORKFLOW_TYPE, WORKFLOW_TASK_QUEUE } from '../infra/config/names';
import { registerSiteHint, RunConfigSchema } from '../infra/config/run-config';
import { type StackSettings } from '../infra/config/stack';
import { DatasetReader } from '../infra/dataset/reader';
import { UserError } from '../infra/errors';
import { readSite, type StoredSite } from '../infra/sites/registry';
import { sha256OfJson } from '../infra/storage/hash';
import { type S3ObjectStore } from '../infra/storage/s3-store';
import { withClient } from '../infra/temporal/connect';
import { resolveProfile, type Profile } from '../ml/profiles';
import type { cc2dSuggestTemplate } from '../workflows';
import { LocalWorkers, type WorkersMode } from './local-workers';
import { taskQueueFlags } from './options';

export interface SuggestFlags {
  top: string;
  json?: boolean;
  run?: string;
  profile?: string;
  seed?: string;
  workers: WorkersMode;
  verbose?: boolean;
  gpuQueue?: string;
  cpuQueue?: string;
}

export function positiveInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${what}: expected a positive integer, got "${value}"`);
  return n;
}

/** The workflow's input: the site's dataset version, its images, and where SSL weights come from. */
async function suggestInput(store: S3ObjectStore, site: string, flags: SuggestFlags, stored: StoredSite): Promise<SuggestTemplateInput> {
  const { datasetVersion } = stored.record;
  const defaults = RunConfigSchema.parse({ dataset: { version: datasetVersion } });
  const seed = flags.seed !== undefined ? positiveInt(flags.seed, '--seed') : defaults.seed;
  const reader = new DatasetReader(store, datasetVersion);
  const [split, labels] = await Promise.all([reader.split(), reader.labels()]);
  const trainIds = split.train ?? [];
  if (labels.ids.length < 2) throw new UserError(`site ${site}: ${labels.ids.length} image(s); ranking needs at least 2`);
  const common = { site, datasetVersion, seed, trainIds, candidateIds: [...labels.ids], heartbeatTimeoutSeconds: defaults.heartbeatTimeoutSeconds,
    ...(taskQueueFlags(flags) ? { taskQueues: taskQueueFlags(flags) } : {}) };
  if (flags.run !== undefined) {
    if (flags.profile !== undefined) throw new UserError('--profile: the profile is the run\'s when --run is given');
    const { report } = await readPublishedReport(store, flags.run, RunSslWeightsReportSchema, 'its SSL weights are read from completed runs only');
    const { key, sha256 } = report.artifacts.sslWeights;
    return { ...common, profile: report.lineage.config.profile as unknown as Profile, sslWeights: { key, sha256 }, sslRunId: flags.run };
  }
  let profile;
  try {
    profile = resolveProfile(flags.profile ?? defaults.profile);
  } catch (err) {
    throw new UserError(`--profile: ${(err as Error).message}`);
  }
  if (trainIds.length === 0) throw new UserError(`site ${site}: no training images to train SSL on`);
  return { ...common, profile };
}

async function startOrJoin(client: Client, input: SuggestTemplateInput, workflowId: string): Promise<WorkflowHandle<typeof cc2dSuggestTemplate>> {
  try {
    return await client.workflow.start<typeof cc2dSuggestTemplate>(SUGGEST_TEMPLATE_WORKFLOW_TYPE, { taskQueue: WORKFLOW_TASK_QUEUE, workflowId, args: [input] });
  } catch (err) {
    // The same suggestion is already being computed (another terminal): wait for that one.
    if (err instanceof WorkflowExecutionAlreadyStartedError) return client.workflow.getHandle<typeof cc2dSuggestTemplate>(workflowId);
    throw err;
  }
}

/** Runs the workflow (hosting workers as `cc2d run` does) and returns its result, with the site's folder for the next command. */
export async function suggestTemplate(settings: StackSettings, store: S3ObjectStore, site: string, flags: SuggestFlags): Promise<SuggestTemplateResult & { siteDir: string }> {
  const stored = await readSite(store, site);
  if (stored === undefined) throw new UserError(`site ${site} is not registered (${registerSiteHint(site)})`);
  const input = await suggestInput(store, site, flags, stored);
  // One workflow per (site images, profile, seed, weights): a repeated command joins or re-runs the same id.
  const key = sha256OfJson({ datasetVersion: input.datasetVersion, profile: input.profile, seed: input.seed, sslWeights: input.sslWeights?.sha256 ?? null });
  const workflowId = `cc2d-suggest-${site}-${key.slice(0, 16)}`;
  return withClient(settings, async (client) => {
    const local = new LocalWorkers(client, settings, flags.workers, flags.verbose ?? false, input.taskQueues ?? {});
    await local.beforeStart();
    try {
      const handle = await startOrJoin(client, input, workflowId);
      const how = input.sslWeights ? `SSL weights of run ${flags.run}` : `profile ${input.profile.name}: SSL weights from the stage cache, else trained now`;
      process.stderr.write(`[cc2d] ranking ${input.candidateIds.length} images of site ${site} (${how}): ${workflowId}\n`);
      let done = false;
      const result = handle.result().finally(() => {
        done = true;
      });
      while (!done) {
        await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
        if (!done) await local.check(handle).catch(() => undefined);
      }
      return { ...(await result), siteDir: stored.record.dir };
    } finally {
      await local.shutdown();
    }
  });
}
