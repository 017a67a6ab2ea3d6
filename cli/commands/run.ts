/**
 * `cc2d run` (start a pipeline run, follow it), `status <id>`, `cancel <id>`, `rerun <id>`,
 * `eval <id>`. The config is validated completely (schema, profile, template vs. the dataset's
 * splits) BEFORE a workflow starts; an invalid one exits 2 naming the field.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { PipelineProgress, PipelineResult } from '../../contracts/types';
import { loadRunConfig, parseRunConfig, type PipelineInput, type RunConfigFlags } from '../../infra/config/run-config';
import { loadStackSettings, type StackSettings } from '../../infra/config/stack';
import { UserError } from '../../infra/errors';
import { PAPER_REFERENCE } from '../../infra/report/reference';
import { createS3Store } from '../../infra/storage/s3-store';
import { connectClient } from '../../infra/temporal/connect';
import { initBackend } from '../../infra/tf-backend';
import { codeVersion } from '../../workers/activity-deps';
import { ALL_ROLES } from '../../workers/local';
import { LocalWorkers } from '../local-workers';
import { formatResult, formatStageMetrics } from '../format';
import { computeRunSslStage, runSslSource, storedSslStages, type StoredSslStage } from '../ssl-stage';
import {
  livePollers,
  missingRoles,
  newRunId,
  QUEUE_OF_ROLE,
  preflight,
  queryProgress,
  runInput,
  searchAttributesOf,
  startRun,
} from '../pipeline-client';
import { ProgressView } from '../progress-view';

interface RunFlags extends RunConfigFlags {
  runId?: string;
  detach?: boolean;
  json?: boolean;
  workers: 'auto' | 'local' | 'none';
  verbose?: boolean;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}


/** Follows a run until it closes; returns its result or throws its failure. */
export async function follow(handle: WorkflowHandle, view: ProgressView, client: Client, local?: LocalWorkers, gpuQueue?: string): Promise<PipelineResult> {
  let done = false;
  const result = handle.result().finally(() => {
    done = true;
  });
  const poll = (async () => {
    let lastWarn = 0;
    while (!done) {
      const p = await queryProgress(handle);
      if (p) {
        let note: string | undefined;
        if (p.stage === 'ssl' || p.stage === 'tpl' || p.stage === 'pseudo-labels') {
          // F13: never a silent hang when no GPU worker polls.
          if (Date.now() - lastWarn > 10_000 && p.step === 0 && (await livePollers(client, 'gpu', gpuQueue).catch(() => ['?'])).length === 0) {
            note = 'waiting for a GPU worker (start one: npx cc2d worker --queues gpu)';
          }
        }
        view.update(p, note);
      }
      await local?.check(handle).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    return (await result) as PipelineResult;
  } finally {
    await poll;
  }
}

function describeFailure(err: unknown): string {
  if (err instanceof WorkflowFailedError) {
    let cause: unknown = err.cause;
    const parts: string[] = [];
    while (cause instanceof Error) {
      parts.push(cause.message);
      cause = (cause as Error & { cause?: unknown }).cause;
    }
    return parts.join(': ') || err.message;
  }
  return (err as Error).message;
}

/** A run that did not complete: exit code 1 (2 is for invalid input), no stack trace. */
class RunFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFailed';
    this.stack = message;
  }
}

function runQueues(input: PipelineInput): { gpu?: string; cpu?: string } {
  const q = input.config.taskQueues ?? {};
  return { ...(q.gpu ? { gpu: q.gpu } : {}), ...(q.cpu ? { cpu: q.cpu } : {}) };
}

/** Hosts workers if needed, follows the run with a progress bar, prints the result. */
async function followRun(client: Client, handle: WorkflowHandle, input: PipelineInput, flags: RunFlags, local?: LocalWorkers): Promise<void> {
  const runId = handle.workflowId;
  const view = new ProgressView(!flags.json || process.stderr.isTTY === true);
  const onSigint = (): void => {
    view.stop();
    process.stderr.write(`\n[cc2d] detached from ${runId}; it continues in Temporal. Follow: npx cc2d status ${runId}; cancel: npx cc2d cancel ${runId}\n`);
  };
  process.once('SIGINT', onSigint);
  try {
    const result = await follow(handle, view, client, local, runQueues(input).gpu);
    view.stop();
    if (flags.json) console.log(JSON.stringify(result));
    else console.log(formatResult(result));
  } catch (err) {
    view.stop();
    throw new RunFailedError(`run ${runId} did not complete: ${describeFailure(err)}`);
  } finally {
    process.off('SIGINT', onSigint);
    await local?.shutdown();
  }
}

async function prepareWorkers(client: Client, settings: StackSettings, input: PipelineInput, flags: RunFlags): Promise<LocalWorkers | undefined> {
  const queues = runQueues(input);
  const local = flags.detach ? undefined : new LocalWorkers(client, settings, flags.workers, flags.verbose ?? false, queues);
  if (local) await local.beforeStart();
  else if ((await missingRoles(client, ALL_ROLES, queues)).length > 0) {
    process.stderr.write('[cc2d] warning: some queues have no live worker; the run waits until `npx cc2d worker` runs\n');
  }
  return local;
}

async function runAndFollow(client: Client, settings: StackSettings, input: PipelineInput, flags: RunFlags): Promise<void> {
  const runId = flags.runId ?? newRunId(input.config.site);
  const local = await prepareWorkers(client, settings, input, flags);
  let handle: WorkflowHandle;
  try {
    handle = await startRun(client, input, runId);
  } catch (err) {
    await local?.shutdown();
    throw err;
  }
  process.stderr.write(`[cc2d] started run ${runId} (profile ${input.profile.name}, site ${input.config.site}, template ${input.config.templateId}, seed ${input.config.seed})\n`);
  if (flags.detach) {
    if (flags.json) console.log(JSON.stringify({ runId, status: 'running' }));
    else console.log(runId);
    return;
  }
  await followRun(client, handle, input, flags, local);
}

/**
 * Resumes a failed (or timed-out/terminated) run: resets its workflow to the first workflow
 * task, so the pipeline re-executes under the same run id. Stages that finished before the
 * failure return their stored results (completion markers), training resumes from its newest
 * verified checkpoint, the dataset version is reused. Returns the handle of the new execution.
 */
async function resumableRun(client: Client, runId: string) {
  const desc = await client.workflow.getHandle(runId).describe();
  if (!['FAILED', 'TIMED_OUT', 'TERMINATED'].includes(desc.status.name)) {
    throw new UserError(`run ${runId} is ${desc.status.name}; only a failed, timed-out or terminated run can be resumed`);
  }
  return desc;
}

export async function resumeRun(client: Client, runId: string): Promise<WorkflowHandle> {
  const desc = await resumableRun(client, runId);
  const history = await client.workflow.getHandle(runId, desc.runId).fetchHistory();
  const firstTask = history.events?.find((e) => e.workflowTaskCompletedEventAttributes);
  if (!firstTask) throw new UserError(`run ${runId} never ran a workflow task; start it again with \`cc2d rerun ${runId}\``);
  const res = await client.workflowService.resetWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId: runId, runId: desc.runId },
    reason: 'cc2d resume',
    workflowTaskFinishEventId: firstTask.eventId,
    requestId: randomUUID(),
  });
  return client.workflow.getHandle(runId, res.runId ?? undefined);
}

async function withClient<T>(fn: (client: Client, settings: StackSettings) => Promise<T>): Promise<T> {
  const settings = loadStackSettings();
  const client = await connectClient(settings);
  try {
    return await fn(client, settings);
  } finally {
    await client.connection.close();
  }
}

export function register(program: Command): void {
  program
    .command('run')
    .description('Validate a run config, start the CC2D pipeline and follow it (hosts local workers when none poll)')
    .option('-c, --config <file>', 'run config (YAML or JSON)')
    .option('--profile <name>', 'smoke | cpu | paper')
    .option('--template <id>', 'template image id (a training image)')
    .option('--dataset <dir>', 'dataset folder (ISBI 2015 layout); default $ISBI_DIR or ../shared/datasets/isbi2015_ceph')
    .option('--dataset-version <id>', 'an already published dataset version instead of a folder')
    .option('--site <name>', 'site name (search attribute, schedules)')
    .option('--seed <n>', 'run seed (default 2022)')
    .option('--shards <n>', 'pseudo-label shards (parallel activities)')
    .option('--checkpoint-every <n>', 'checkpoint interval in training steps')
    .option('--set <field=value>', 'override any config field, e.g. --set overrides.ssl.steps=50 (repeatable)', collect, [])
    .option('--run-id <id>', 'workflow id (default cc2d-<site>-<time>-<rand>)')
    .option('--detach', 'start and print the run id without waiting')
    .option('--json', 'print the final result (metrics, report key) as one JSON line, last')
    .option('--workers <mode>', 'auto: host workers for queues nobody polls | local: always | none', 'auto')
    .option('--verbose', 'show SDK and activity logs')
    .action(async (flags: RunFlags) => {
      if (!['auto', 'local', 'none'].includes(flags.workers)) throw new UserError(`--workers: expected auto, local or none, got "${flags.workers}"`);
      const settings = loadStackSettings();
      const config = await loadRunConfig(flags);
      const input = await preflight(config, settings);
      await withClient((client) => runAndFollow(client, settings, input, flags));
    });

  program
    .command('status <runId>')
    .description('Status, stage, progress and (when done) metrics of a run')
    .option('--json', 'one JSON object')
    .action(async (runId: string, opts: { json?: boolean }) => {
      await withClient(async (client) => {
        const handle = client.workflow.getHandle(runId);
        const desc = await handle.describe();
        const attrs = searchAttributesOf(desc as never);
        const progress: PipelineProgress | undefined = desc.status.name === 'RUNNING' ? await queryProgress(handle) : undefined;
        const raw = desc.raw.pendingActivities ?? [];
        const input = desc.status.name === 'RUNNING' ? await runInput(client, runId).catch(() => undefined) : undefined;
        const pending = await Promise.all(
          raw.map(async (a) => {
            const name = a.activityType?.name ?? '?';
            const role = ['trainSelfSupervised', 'generatePseudoLabels', 'trainSupervised'].includes(name) ? 'gpu' : 'cpu';
            const queue = input?.config.taskQueues?.[role];
            // F13: an unclaimed task with nobody polling its queue is "waiting for a worker", not a hang.
            const waiting = a.state === 1 && (await livePollers(client, role, queue).catch(() => ['?'])).length === 0;
            return {
              activity: name,
              state: a.state === 1 ? 'scheduled' : a.state === 2 ? 'started' : a.state === 3 ? 'cancel-requested' : String(a.state ?? ''),
              attempt: a.attempt ?? 1,
              ...(waiting ? { waitingFor: `a ${role.toUpperCase()} worker on ${queue ?? QUEUE_OF_ROLE[role].name}` } : {}),
              ...(a.lastFailure?.message ? { lastFailure: a.lastFailure.message } : {}),
              ...(a.lastWorkerIdentity ? { lastWorker: a.lastWorkerIdentity } : {}),
            };
          }),
        );
        let result: PipelineResult | undefined;
        if (desc.status.name === 'COMPLETED') result = (await handle.result()) as PipelineResult;
        const out = { runId, status: desc.status.name, ...attrs, startTime: desc.startTime, closeTime: desc.closeTime, progress, pending, result };
        if (opts.json) {
          console.log(JSON.stringify(out));
          return;
        }
        console.log(`${runId}: ${desc.status.name}  stage ${String(attrs.stage ?? '?')}  site ${String(attrs.site ?? '?')}  profile ${String(attrs.profile ?? '?')}`);
        if (progress) console.log(`  progress ${(progress.fraction * 100).toFixed(0)}%  ${progress.stage} step ${progress.step}/${progress.totalSteps}${progress.loss !== undefined ? ` loss ${progress.loss.toFixed(4)}` : ''}`);
        for (const p of pending) {
          console.log(`  pending ${p.activity} (${p.state}) attempt ${p.attempt}${p.lastWorker ? ` on ${p.lastWorker}` : ''}${p.lastFailure ? ` (last failure: ${p.lastFailure})` : ''}`);
          if (p.waitingFor) console.log(`    waiting for ${p.waitingFor}: start one with npx cc2d worker --queues ${p.waitingFor.includes('GPU') ? 'gpu' : 'cpu'}`);
        }
        if (result) console.log(formatResult(result));
      });
    });

  program
    .command('cancel <runId>')
    .description('Cancel a run; its unpublished objects are removed, published artifacts are kept')
    .option('--no-wait', 'do not wait for the cleanup to finish')
    .action(async (runId: string, opts: { wait: boolean }) => {
      await withClient(async (client) => {
        const handle = client.workflow.getHandle(runId);
        await handle.cancel();
        if (opts.wait) {
          try {
            await handle.result();
          } catch {
            // expected: cancelled
          }
          const desc = await handle.describe();
          console.log(`${runId}: ${desc.status.name}`);
        } else {
          console.log(`${runId}: cancellation requested`);
        }
      });
    });

  program
    .command('rerun <runId>')
    .description('Start a new run with the same config, seed and dataset version as <runId>')
    .option('--run-id <id>', 'id of the new run')
    .option('--detach', 'start and print the run id without waiting')
    .option('--json', 'print the final result as one JSON line, last')
    .option('--workers <mode>', 'auto | local | none', 'auto')
    .option('--verbose', 'show SDK and activity logs')
    .action(async (sourceId: string, flags: RunFlags) => {
      const settings = loadStackSettings();
      await withClient(async (client) => {
        const original = await runInput(client, sourceId);
        const desc = await client.workflow.getHandle(sourceId).describe();
        const version = searchAttributesOf(desc as never).datasetVersion as string | undefined;
        const { dir: _dir, version: _v, ...datasetParams } = original.config.dataset;
        const config = parseRunConfig({ ...original.config, dataset: { ...datasetParams, ...(version ? { version } : { dir: original.config.dataset.dir }) } });
        const input = await preflight(config, settings);
        process.stderr.write(`[cc2d] rerun of ${sourceId}: seed ${config.seed}, dataset ${version ?? config.dataset.dir}, config hash ${input.configHash === original.configHash ? 'unchanged' : 'CHANGED (profile definitions moved on)'}\n`);
        // Keep the original's resolved profile, so a rerun is the same run even if PROFILES changed since.
        await runAndFollow(client, settings, { ...input, profile: original.profile, configHash: original.configHash }, flags);
      });
    });

  program
    .command('resume <runId>')
    .description('Resume a failed run under the same id: finished stages are reused, training resumes from its last checkpoint')
    .option('--detach', 'resume and print the run id without waiting')
    .option('--json', 'print the final result as one JSON line, last')
    .option('--workers <mode>', 'auto | local | none', 'auto')
    .option('--verbose', 'show SDK and activity logs')
    .action(async (runId: string, flags: RunFlags) => {
      const settings = loadStackSettings();
      await withClient(async (client) => {
        await resumableRun(client, runId);
        const input = await runInput(client, runId);
        const local = await prepareWorkers(client, settings, input, flags);
        let desc;
        try {
          desc = await (await resumeRun(client, runId)).describe();
        } catch (err) {
          await local?.shutdown();
          throw err;
        }
        process.stderr.write(`[cc2d] resumed run ${runId} (new execution ${desc.runId})\n`);
        if (flags.detach) {
          if (flags.json) console.log(JSON.stringify({ runId, status: 'running' }));
          else console.log(runId);
          return;
        }
        await followRun(client, client.workflow.getHandle(runId), input, flags, local);
      });
    });

  program
    .command('eval <runId>')
    .description("Show a completed run's evaluation: final model and SSL stage, both protocols, each test split, pseudo-label quality")
    .option('--json', 'the metrics as one JSON line')
    .option('--compute-ssl', "compute the SSL stage (cascade matching only) of a finished run from its stored SSL weights and dataset version; prints it and stores runs/<run>/eval/ssl-metrics-<sha256>.json")
    .action(async (runId: string, opts: { json?: boolean; computeSsl?: boolean }) => {
      if (opts.computeSsl) {
        await computeSslCommand(runId, opts.json ?? false);
        return;
      }
      await withClient(async (client, settings) => {
        const handle = client.workflow.getHandle(runId);
        const desc = await handle.describe();
        if (desc.status.name !== 'COMPLETED') throw new UserError(`run ${runId} is ${desc.status.name}; eval needs a completed run`);
        const r = (await handle.result()) as PipelineResult;
        // Runs finished before the SSL stage was evaluated: show a stored `--compute-ssl` result, if any.
        let stored: { key: string; doc: StoredSslStage } | undefined;
        if (!r.sslMetrics) {
          const store = createS3Store(settings);
          try {
            stored = (await storedSslStages(store, runId)).at(-1);
          } finally {
            store.destroy();
          }
        }
        const sslMetrics = r.sslMetrics ?? stored?.doc.summary;
        if (opts.json) {
          console.log(JSON.stringify({
            runId, mreMm: r.mreMm, headlineSet: r.headlineSet, metrics: r.metrics, sslMetrics: sslMetrics ?? null,
            sslMetricsSource: r.sslMetrics ? 'run' : stored ? stored.key : null,
            pseudoLabelMetrics: r.pseudoLabelMetrics, metricsKey: r.artifacts.metrics.key, reportKey: r.reportKey,
          }));
          return;
        }
        console.log(formatResult({ ...r, ...(sslMetrics ? { sslMetrics } : {}) }));
        if (stored) console.log(`  SSL stage computed after the run: ${stored.key} (${stored.doc.backend.backend}, ${stored.doc.codeVersion})`);
      });
    });
}

/** `cc2d eval <id> --compute-ssl`: the SSL stage of a finished run, in this process (cli/ssl-stage.ts). */
async function computeSslCommand(runId: string, json: boolean): Promise<void> {
  const settings = loadStackSettings();
  const store = createS3Store(settings);
  try {
    const source = await runSslSource(store, runId);
    const info = await initBackend();
    const backend = { backend: info.backend, tfVersion: info.tfVersion, tfjsVersion: info.tfjsVersion };
    const total = Object.values(source.testSplits).flat().length;
    process.stderr.write(`[cc2d] SSL stage of ${runId}: matching ${total} test images against template ${source.templateId} (profile ${source.profile.name}, ${source.profile.inputSize} px, ${backend.backend}, weights ${source.sslWeights.key})\n`);
    const tty = process.stderr.isTTY === true;
    const { doc, ref } = await computeRunSslStage(store, runId, {
      backend,
      codeVersion: await codeVersion(settings.projectRoot),
      onProgress: (done, n) => {
        if (tty) process.stderr.write(`\r[cc2d] matched ${done}/${n}`);
        else if (done === n || done % 25 === 0) process.stderr.write(`[cc2d] matched ${done}/${n}\n`);
      },
    }, source);
    if (tty) process.stderr.write('\n');
    const headline = doc.summary.A?.[doc.headlineSet];
    if (json) {
      console.log(JSON.stringify({
        runId, stage: 'ssl', headlineSet: doc.headlineSet, mreMm: headline?.mreMm ?? null, sslMetrics: doc.summary,
        key: ref.key, sha256: ref.sha256, datasetVersion: doc.datasetVersion, templateId: doc.templateId, weights: doc.weights,
        backend: doc.backend, codeVersion: doc.codeVersion,
      }));
      return;
    }
    const paper = PAPER_REFERENCE.find((p) => p.stage === 'ssl')!;
    console.log([
      `run ${runId}: SSL stage (cascade matching only, CC2D-SSL); template ${doc.templateId}, dataset ${doc.datasetVersion}`,
      ...formatStageMetrics('SSL stage', doc.summary),
      `  paper       CC2D-SSL, ${paper.testSet}, protocol A: MRE ${paper.mreMm.toFixed(2)} mm  ${Object.entries(paper.sdrPercent).map(([r, v]) => `SDR<${r}mm ${v.toFixed(2)}%`).join('  ')}`,
      `  stored      ${ref.key}`,
    ].join('\n'));
  } finally {
    store.destroy();
  }
}
