/**
 * History and payload budget of a `paper`-profile run, on the REAL Temporal dev server: the real
 * `cc2dPipeline` workflow (this code's bundle) with the `paper` profile's config, its steps
 * (61 800 SSL, 45 000 TPL) and its ISBI 2015 sizes (150 training ids, Test1 150 + Test2 100, 19
 * landmarks), at the default and at the largest shard count. Its activities are fast stand-ins
 * that report every step through the real progress path (`ProgressReporter`: heartbeats and
 * `stageProgress` signals) with the time throttle off, so each training activity sends as many
 * signals as the step stride allows (the most a real, slow run can send), and return results of
 * the contract's shape at those sizes. Asserted via fetchHistory(): < 10 240 events (also when
 * every signal gets its own workflow task), < 10 MB, every payload < 256 KB.
 */
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import proto from '@temporalio/proto';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PROGRESS_OPTIONS, ProgressReporter, type ProgressOptions } from '../../activities/progress';
import type {
  ArtifactRef, BackendRef, EvaluateModelOutput, GeneratePseudoLabelsInput, IngestOutput, PipelineResult, PlanRunInput, PlanRunOutput,
  PromotionDecision, PseudoLabelShard, StageName, TrainOutput, WriteReportOutput,
} from '../../contracts/types';
import type { MetricSummary } from '../../ml/metrics/scoring';
import { resolveProfile } from '../../ml/profiles';
import { temporalDataConverter } from '../../infra/temporal/connect';
import { createHarness, type PipelineHarness } from './support/harness';

const h = await createHarness('history-budget', { dataset: { train: 4, test1: 2 } });

const PAPER = resolveProfile('paper');
const ids = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => String(from + i).padStart(3, '0'));
const TRAIN = ids(1, 150);
const TEST_SPLITS = { test1: ids(151, 150), test2: ids(301, 100) };
const LANDMARKS = 19;
/** No time throttle: only the step stride limits signals (a real paper run is slow enough for that). */
const PROGRESS: ProgressOptions = { ...DEFAULT_PROGRESS_OPTIONS, signalEveryMs: 0 };
const BACKEND: BackendRef = { backend: 'tensorflow', tfVersion: '2.21.0', tfjsVersion: '4.22.0', device: 'CPU (allowed)' };

const ref = (key: string, size: number): ArtifactRef => ({ key, sha256: randomBytes(32).toString('hex'), size });
const summary = (images: number): MetricSummary => ({ images, mreMm: 1.234567, sdMm: 0.987654, sdr: { '2': 0.81234, '2.5': 0.8734, '3': 0.91234, '4': 0.95321 } });

/** Reports `totalSteps` steps through the real progress path: a heartbeat per step, signals as the stride allows. */
function reportSteps(stage: StageName, totalSteps: number): void {
  const progress = new ProgressReporter(Context.current(), { stage, step: 0, totalSteps, loss: 1 }, PROGRESS);
  progress.update({}, true);
  for (let step = 1; step <= totalSteps; step++) progress.update({ step, loss: 1 / step });
  progress.update({ step: totalSteps }, true);
}

function train(stage: 'ssl' | 'tpl', steps: number, runId: string): TrainOutput {
  reportSteps(stage, steps);
  return {
    stage, weights: ref(`runs/${runId}/${stage}/weights/${'a'.repeat(64)}.bin`, 80_000_000), lossLog: ref(`runs/${runId}/${stage}/loss/${'b'.repeat(64)}.json`, 400_000),
    lastCheckpoint: ref(`runs/${runId}/${stage}/ckpt/${steps}-a1/${'c'.repeat(64)}.bin`, 240_000_000),
    steps, finalLoss: 0.0123, resumedFromStep: 0, attempt: 1, backend: BACKEND, durationMs: 6 * 3600 * 1000,
  };
}

const standIns = {
  ingestDataset: async (): Promise<IngestOutput> => ({ datasetVersion: `v-${'d'.repeat(64)}`, counts: { train: 150, test1: 150, test2: 100 }, reused: false }),
  planRun: async ({ config }: PlanRunInput): Promise<PlanRunOutput> => {
    const n = config.pseudoLabelShards;
    const shards = Array.from({ length: n }, (_, i) => TRAIN.slice(Math.floor((i * TRAIN.length) / n), Math.floor(((i + 1) * TRAIN.length) / n)));
    return {
      trainIds: TRAIN, shards, testSplits: TEST_SPLITS, missingTestSplits: [], landmarkCount: LANDMARKS,
      landmarkNames: Array.from({ length: LANDMARKS }, (_, i) => `landmark ${i + 1} (a name of typical length)`), pixelSpacingMm: 0.1,
    };
  },
  trainSelfSupervised: async ({ runId }: { runId: string }) => train('ssl', PAPER.ssl.steps, runId),
  trainSupervised: async ({ runId }: { runId: string }) => train('tpl', PAPER.tpl.steps, runId),
  generatePseudoLabels: async (i: GeneratePseudoLabelsInput): Promise<PseudoLabelShard> => {
    reportSteps('pseudo-labels', i.ids.length);
    return { shardIndex: i.shardIndex, shardCount: i.shardCount, labels: ref(`runs/${i.runId}/pseudo-labels/${i.shardIndex}-${'e'.repeat(64)}.json`, 30_000), count: i.ids.length, backend: BACKEND };
  },
  evaluateModel: async ({ runId }: { runId: string }): Promise<EvaluateModelOutput> => {
    const bySet = { test1: summary(150), test2: summary(100), all: summary(250) };
    return {
      metrics: ref(`runs/${runId}/eval/metrics-${'f'.repeat(64)}.json`, 2_000_000), predictions: ref(`runs/${runId}/eval/predictions-${'f'.repeat(64)}.json`, 1_000_000),
      summary: { A: bySet, B: bySet }, sslSummary: { A: bySet, B: bySet }, pseudoLabelSummary: summary(150), mreMm: 1.234567, headlineSet: 'all', unit: 'mm', backend: BACKEND,
    };
  },
  writeReport: async ({ runId }: { runId: string }): Promise<WriteReportOutput> => ({
    report: ref(`runs/${runId}/report/report-${'9'.repeat(64)}.json`, 500_000), reportHtml: ref(`runs/${runId}/report/report.html`, 3_000_000), manifestKey: `runs/${runId}/manifest.json`,
  }),
  promoteRun: async (): Promise<PromotionDecision> => ({ site: 'isbi2015', outcome: 'kept', reason: 'the champion has a lower MRE on the same test images', championBefore: 'cc2d-isbi2015-x', candidateMre: 1.23, championMre: 1.2, comparedImages: 250 }),
};

type History = Awaited<ReturnType<ReturnType<PipelineHarness['client']['workflow']['getHandle']>['fetchHistory']>>;

/** Sizes of every payload in the history (inputs, results, signal and query arguments, details). */
function payloadSizes(value: unknown, out: number[] = []): number[] {
  if (value === null || typeof value !== 'object') return out;
  if (value instanceof Uint8Array) return out;
  const v = value as { metadata?: unknown; data?: unknown };
  if (v.metadata !== undefined && v.data instanceof Uint8Array) {
    out.push(v.data.length);
    return out;
  }
  for (const x of Object.values(value)) payloadSizes(x, out);
  return out;
}

function historyBytes(history: History): number {
  return proto.temporal.api.history.v1.History.encode(history as proto.temporal.api.history.v1.IHistory).finish().length;
}

describe.skipIf(!h)('history budget of the paper profile (real workflow, stand-in activities)', () => {
  const H = h as PipelineHarness;
  const workers: Worker[] = [];
  const running: Promise<void>[] = [];

  afterAll(async () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(running);
    await H?.cleanup();
  }, 120_000);

  it.each([2, 64])('paper profile, %i pseudo-label shards: < 10 240 events, < 10 MB, every payload < 256 KB', async (shards) => {
    if (workers.length === 0) {
      await H.workers(['workflows']);
      const dataConverter = temporalDataConverter();
      for (const taskQueue of [H.queues.gpu, H.queues.cpu]) {
        const w = await Worker.create({
          connection: H.connection, namespace: H.stack.namespace, taskQueue, activities: standIns, ...(dataConverter ? { dataConverter } : {}),
        });
        workers.push(w);
        running.push(w.run());
      }
    }
    const input = H.input({ profile: 'paper', pseudoLabelShards: shards, heartbeatTimeoutSeconds: 60 });
    expect(input.profile.ssl.steps).toBe(61_800);
    const t0 = Date.now();
    const handle = await H.start(input, H.runId(`paper-${shards}`));
    const result = (await handle.result()) as PipelineResult;
    expect(result.status).toBe('completed');
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const bytes = historyBytes(history);
    const sizes = payloadSizes(events);
    const signals = events.filter((e) => e.workflowExecutionSignaledEventAttributes).length;
    console.log(
      `paper, ${shards} shards: ${events.length} events (${signals} progress signals; ≤ ${events.length + 3 * signals} with one workflow task each), ${(bytes / 1024).toFixed(0)} KB, ` +
        `${sizes.length} payloads, largest ${(Math.max(...sizes) / 1024).toFixed(1)} KB (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
    expect(signals).toBeGreaterThan(2 * PROGRESS.maxSignals * 0.9);
    expect(events.length).toBeLessThan(10_240);
    // Fast stand-ins let several signals share a workflow task; in a real run each one arrives
    // alone (signaled + workflow task scheduled, started, completed): bound that too.
    expect(events.length + 3 * signals).toBeLessThan(10_240);
    expect(bytes).toBeLessThan(10 * 1024 * 1024);
    expect(Math.max(...sizes)).toBeLessThan(256 * 1024);
  }, 600_000);
});
