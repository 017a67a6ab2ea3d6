/**
 * TEST-ONLY harness for pipeline tests against the REAL Temporal dev server and REAL S3:
 * - a unique S3 prefix (test/support/stack.ts) and unique task queues per test file, so test
 *   files (and any worker a developer left running) never take each other's tasks;
 * - one workflow bundle per file; workers hosted in-process with `hostWorkers`;
 * - a synthetic ISBI-layout dataset (6 train + 3 test by default) in a tmp dir.
 * - workflows in the tests' Temporal namespace, never the user's (requireStack).
 * Under CI or CC2D_TEST_STRICT an unreachable stack fails the file (requireStack throws), it never skips.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { NativeConnection, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { installRuntime } from '../../../workers/runtime-logger';
import type { PipelineResult } from '../../../contracts/types';
import { parseRunConfig, buildPipelineInput, type PipelineInput, type RunConfigInput } from '../../../infra/config/run-config';
import { startRun } from '../../../cli/pipeline-client';
import { connectClient, connectWorker } from '../../../infra/temporal/connect';
import { buildActivityDeps, type WorkerDeps } from '../../../workers/activity-deps';
import { hostWorkers, type HostedWorkers, type QueueRole } from '../../../workers/local';
import { bundleWorkflows } from '../../../workers/workflow-worker';
import { requireStack, type TestStack } from '../../support/stack';
import { makeSyntheticIsbi, type SyntheticDataset } from './synthetic-isbi';

export interface PipelineHarness {
  stack: TestStack;
  client: Client;
  connection: NativeConnection;
  bundle: WorkflowBundleWithSourceMap;
  deps: WorkerDeps;
  dataset: SyntheticDataset;
  /** Unique per harness. */
  queues: Record<QueueRole, string>;
  site: string;
  hosted: HostedWorkers[];
  /** `ownConnection`: a separate Temporal connection (needed for a second worker on one queue). */
  workers(roles: QueueRole[], identityPrefix?: string, opts?: { ownConnection?: boolean }): Promise<HostedWorkers>;
  /** A smoke-profile pipeline input on the synthetic dataset, routed to this harness's queues (stage cache off unless overridden). */
  input(overrides?: Partial<RunConfigInput>): PipelineInput;
  start(input: PipelineInput, runId?: string): ReturnType<typeof startRun>;
  /** Ids of the runs `start` started, in order. */
  started: string[];
  runId(tag: string): string;
  cleanup(): Promise<void>;
}

export interface HarnessOptions {
  dataset?: Parameters<typeof makeSyntheticIsbi>[0];
  /** A stack to use instead of the shared dev stack (e.g. a private one for fault tests). */
  stack?: TestStack;
}

export async function createHarness(name: string, opts: HarnessOptions = {}): Promise<PipelineHarness | undefined> {
  const stack = opts.stack ?? (await requireStack(name, { s3: true, temporal: true }));
  if (!stack) return undefined;
  installRuntime((process.env.CC2D_TEST_LOG as 'INFO' | undefined) ?? 'WARN');
  const tag = `${name}-${randomBytes(3).toString('hex')}`;
  const queues: Record<QueueRole, string> = { workflows: `cc2d-workflows-t-${tag}`, gpu: `cc2d-gpu-t-${tag}`, cpu: `cc2d-cpu-t-${tag}` };
  const site = `t-${tag}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 48);
  const [connection, client, bundle, deps, dataset] = await Promise.all([
    connectWorker(stack.settings),
    connectClient(stack.settings),
    bundleWorkflows(),
    // Tests host the GPU queue on machines without a GPU (CI, the dev machine): explicitly allowed.
    buildActivityDeps(stack.settings, { allowCpu: true }),
    makeSyntheticIsbi(opts.dataset),
  ]);
  const hosted: HostedWorkers[] = [];
  const h: PipelineHarness = {
    stack, client, connection, bundle, deps, dataset, queues, site, hosted,
    async workers(roles, identityPrefix, opts = {}) {
      const w = await hostWorkers({
        roles, settings: stack.settings, bundle, deps, taskQueues: queues,
        ...(opts.ownConnection ? {} : { connection }),
        identityPrefix: identityPrefix ?? `test-${tag}-${hosted.length}`,
      });
      hosted.push(w);
      return w;
    },
    input(overrides = {}) {
      return buildPipelineInput(parseRunConfig({
        site,
        dataset: { dir: dataset.root },
        templateId: dataset.train[1],
        profile: 'smoke',
        pseudoLabelShards: 2,
        heartbeatTimeoutSeconds: 10,
        // Tests compare recomputed runs with the same config; the stage-cache test turns it on.
        cache: false,
        ...overrides,
        taskQueues: { gpu: queues.gpu, cpu: queues.cpu, ...overrides.taskQueues },
      }));
    },
    started: [],
    start(input, runId) {
      const id = runId ?? h.runId('run');
      h.started.push(id);
      return startRun(h.client, input, id, queues.workflows);
    },
    runId(t) {
      return `cc2d-${site}-${t}-${randomBytes(2).toString('hex')}`;
    },
    async cleanup() {
      for (const w of hosted) await w.shutdown().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await client.connection.close().catch(() => undefined);
      deps.store.destroy();
      await dataset.cleanup();
      await stack.cleanup();
    },
  };
  return h;
}

export type { PipelineResult };
