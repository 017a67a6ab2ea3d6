/**
 * The pipeline end to end on the REAL Temporal dev server and REAL S3 (smoke profile, synthetic
 * 6 + 3 image dataset in the ISBI layout): a full run publishes metrics, reports and a lineage
 * manifest; visibility lists it; a bad config never starts a workflow; pseudo-labelling fans out
 * over two GPU workers and equals the unsharded result; a scheduled run of an unchanged site
 * reuses the dataset version; the recorded history replays deterministically. Accuracy: the
 * stored metrics equal an independent recomputation from the stored predictions, and the final
 * model beats copying the template and the untrained network. Nothing of it lands in the user's
 * Temporal namespace or S3 prefix.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, WorkflowFailedError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineResult, PseudoLabelFile } from '../../contracts/types';
import { DatasetReader } from '../../infra/dataset/reader';
import { runPrefix } from '../../infra/storage/keys';
import { evaluateLandmarks } from '../../ml/metrics';
import { matchTemplate, prototypePoolIds } from '../../ml/ssl';
import type { PointYX } from '../../ml/types';
import { loadRunConfig } from '../../infra/config/run-config';
import { InvalidConfigError } from '../../infra/errors';
import { isPublished, readManifest } from '../../infra/storage/manifest';
import { DATASET_FILES, datasetPrefix } from '../../infra/dataset/published';
import { resumeRun } from '../../cli/commands/resume';
import { runStatus } from '../../cli/commands/status';
import { preflight, searchAttributesOf } from '../../cli/pipeline-client';
import { computeRunSslStage, storedSslStages } from '../../cli/ssl-stage';
import { createSiteSchedule } from '../../cli/commands/schedule';
import { scheduleIdOf } from '../../infra/config/names';
import { listQuery, listRuns } from '../../cli/commands/runs';
import { progressQuery } from '../../workflows/definitions';
import { accuracyGateFailures, type GateBaseline } from './support/accuracy';
import { createHarness, type PipelineHarness } from './support/harness';
import { userStackSettings } from '../support/stack';
import { createS3Store } from '../../infra/storage/s3-store';
import { scoreRun, type RunScores } from './support/run-scores';

const h = await createHarness('pipeline');
const FIXTURE_HISTORY = fileURLToPath(new URL('../fixtures/histories/cc2d-pipeline-smoke.history.pb', import.meta.url));
const History = proto.temporal.api.history.v1.History;

/**
 * The accuracy gate's test profile (protocol-A MRE measured with the native backend). Plain smoke
 * (12 SSL + 8 TPL steps) does not beat copying the template's points: 10.81 mm vs 0.73 mm on the
 * former synthetic data (untrained network 12.49 mm), 12.41 mm vs 3.14 mm on the current one.
 * With these overrides (AMD EPYC, 2026-11-30): final model 1.95 mm with tfjs's own BatchNorm and
 * ReLU gradient, 2.53 mm with the native fused kernels (infra/native-training-kernels.ts), whose
 * results differ from those only at float precision; template copy 3.14 mm, untrained network
 * 9.17 mm. Float-level differences (kernels, CPU model) move this small run by ~0.6 mm, so the
 * margins below are set to hold across them rather than at the best value seen.
 */
const GATE_OVERRIDES = {
  ssl: { steps: 150, lrStepEvery: 75, distanceBias: true },
  tpl: { width: 0.25, steps: 160, lrDecaySteps: [120], heatLossNorm: 'positives' as const, lr: 1e-3 },
};
/** The final model's MRE must be at most 0.9 × copying the template's and 0.5 × the untrained network's. */
function gateBaselines(s: RunScores, protocol: 'A' | 'B'): GateBaseline[] {
  return [
    { name: 'template points copied to every image', mreMm: s.templateCopy[protocol], maxRatio: 0.9 },
    { name: 'untrained network', mreMm: s.untrained[protocol], maxRatio: 0.5 },
  ];
}

/** The stored metrics equal an independent recomputation from the stored predictions and labels. */
async function expectStoredMetricsRecomputed(run: PipelineResult, s: RunScores, store: PipelineHarness['deps']['store']): Promise<void> {
  const doc = JSON.parse(new TextDecoder().decode(await store.get(run.artifacts.metrics.key, run.artifacts.metrics.sha256))) as {
    protocols: Record<string, Record<string, { overall: { mreMm: number } }>>;
  };
  for (const protocol of ['A', 'B'] as const) {
    expect(doc.protocols[protocol]!.test1!.overall.mreMm).toBeCloseTo(s.model[protocol], 9);
    expect(run.metrics[protocol]!.test1!.mreMm).toBeCloseTo(s.model[protocol], 9);
  }
}

async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe.skipIf(!h)('cc2dPipeline on the real stack', () => {
  const H = h as PipelineHarness;
  let first: PipelineResult;
  let firstHandle: WorkflowHandle;

  beforeAll(async () => {
    await H.workers(['workflows', 'gpu', 'cpu'], 'worker-a');
  });
  afterAll(() => H.cleanup());

  it('runs ingest → SSL → pseudo-labels → TPL → evaluate → report and publishes the run', async () => {
    const t0 = Date.now();
    firstHandle = await H.start(H.input());
    first = await firstHandle.result();
    console.log(`full smoke run: ${((Date.now() - t0) / 1000).toFixed(1)} s, MRE ${first.mreMm!.toFixed(3)} mm`);
    expect(first.status).toBe('completed');
    expect(first.datasetReused).toBe(false);
    expect(Number.isFinite(first.mreMm)).toBe(true);
    expect(first.metrics.A!.test1!.images).toBe(3);
    expect(Object.keys(first.metrics).sort()).toEqual(['A', 'B']);
    expect(first.reportKey).toMatch(/\/report\/report-[0-9a-f]{64}\.json$/);

    // Published: the manifest lists every artifact with its sha256, and every byte matches.
    const manifest = await readManifest(H.deps.store, runPrefix(first.runId), { verify: 'hashes' });
    const listed = manifest.files.map((f) => f.key);
    expect(first.artifacts.reportHtml).toBeDefined();
    for (const a of [first.artifacts.sslWeights, first.artifacts.tplWeights, first.artifacts.report, first.artifacts.reportHtml!, first.artifacts.metrics, ...first.artifacts.pseudoLabels]) {
      expect(listed).toContain(a.key.slice(runPrefix(first.runId).length + 1));
      expect(manifest.files.find((f) => a.key.endsWith(f.key))!.sha256).toBe(a.sha256);
    }
    expect(manifest.meta).toMatchObject({ datasetVersion: first.datasetVersion, configHash: first.configHash, seeds: { run: 2022 } });
    expect(String(manifest.meta.codeVersion)).toMatch(/^(git:[0-9a-f]{40}|package:)/);
    expect((manifest.meta.backends as { tpl: { backend: string } }).tpl.backend).toBe('tensorflow');
    // The device each training stage computed on; the harness serves the GPU queue with allowCpu.
    const backends = manifest.meta.backends as Record<'ssl' | 'tpl', { device?: string }>;
    const device = H.deps.backend().device;
    expect(device).toMatch(/^(GPU:\d|CPU \(allowed\)$)/);
    expect([backends.ssl.device, backends.tpl.device]).toEqual([device, device]);

    // The JSON report carries lineage and both protocols; the HTML report exists.
    const report = JSON.parse(new TextDecoder().decode(await H.deps.store.get(first.reportKey))) as Record<string, any>;
    expect(report.lineage).toMatchObject({ datasetVersion: first.datasetVersion, templateId: H.dataset.train[1], profile: 'smoke', site: H.site });
    expect(report.lineage.backends.ssl.device).toBe(device);
    // And with which kernels: oneDNN's convolutions round differently (infra/tf-backend.ts).
    if (process.arch === 'x64' && H.deps.backend().backend === 'tensorflow') {
      expect(H.deps.backend().oneDnnOpts).toBe(process.env.TF_ENABLE_ONEDNN_OPTS);
      expect(report.lineage.backends.tpl.oneDnnOpts).toBe(process.env.TF_ENABLE_ONEDNN_OPTS);
    }
    expect(report.evaluation.detail.errors.map((e: { protocol: string }) => e.protocol)).toEqual(['A', 'B']);
    const html = new TextDecoder().decode(await H.deps.store.get(first.artifacts.reportHtml!.key));
    expect(html).toMatch(/<html/i);

    // The SSL stage alone (CC2D-SSL: cascade matching from the template) beside the final model:
    // both protocols, every evaluated test split, the same images.
    const ssl = first.sslMetrics!;
    expect(ssl).toBeDefined();
    expect(Object.keys(ssl).sort()).toEqual(['A', 'B']);
    for (const protocol of ['A', 'B']) {
      expect(Object.keys(ssl[protocol]!)).toEqual(Object.keys(first.metrics[protocol]!));
      for (const [set, m] of Object.entries(ssl[protocol]!)) {
        expect(m.images).toBe(first.metrics[protocol]![set]!.images);
        for (const v of [m.mreMm, m.sdMm, ...['2', '2.5', '3', '4'].map((r) => m.sdr[r]!)]) expect(Number.isFinite(v)).toBe(true);
      }
    }
    expect(ssl.A!.test1!.images).toBe(H.dataset.test1.length);
    expect(report.evaluation.sslStage.summary).toEqual(ssl);
    const metricsDoc = JSON.parse(new TextDecoder().decode(await H.deps.store.get(first.artifacts.metrics.key))) as Record<string, any>;
    expect(metricsDoc.stage).toBe('tpl');
    expect(metricsDoc.errors.map((e: { protocol: string }) => e.protocol)).toEqual(['A', 'B']); // TPL fields as before
    expect(metricsDoc.sslStage).toMatchObject({ stage: 'ssl', summary: ssl, weights: { key: first.artifacts.sslWeights.key, sha256: first.artifacts.sslWeights.sha256 } });
    expect(html).toContain('SSL stage (cascade matching only)');
    expect(html).toContain('CC2D-SSL only (no TPL)');
    await expectStoredMetricsRecomputed(first, await scoreRun(H.deps.store, first, H.input(), H.dataset.train), H.deps.store);

    // …and equals matchTemplate + ml/metrics called directly on the run's stored SSL weights.
    const reader = new DatasetReader(H.deps.store, first.datasetVersion);
    const [labels, weights] = await Promise.all([reader.labels(), H.deps.store.get(first.artifacts.sslWeights.key, first.artifacts.sslWeights.sha256)]);
    const profile = H.input().profile;
    const templateId = H.dataset.train[1]!;
    const points = await matchTemplate({
      profile, weights, template: (await reader.images(profile.inputSize, [templateId]))[0]!,
      templateLandmarks: labels.images[templateId]!.workingYx![String(profile.inputSize)]!.map(([y, x]) => [y, x] as PointYX),
      images: await reader.images(profile.inputSize, H.dataset.test1),
      pool: await reader.images(profile.inputSize, prototypePoolIds(H.dataset.train, templateId)),
    });
    const spacingMm = (await reader.description()).pixelSpacingMm!;
    for (const protocol of ['A', 'B'] as const) {
      const direct = evaluateLandmarks(H.dataset.test1.map((id, i) => ({
        id, predicted: points[i]!, truth: labels.images[id]!.gtMeanXyPx!.map(([x, y]) => [y, x] as PointYX),
        originalHeight: labels.images[id]!.heightPx, originalWidth: labels.images[id]!.widthPx, spacingMm,
      })), { protocol, gridSize: profile.inputSize, spacingMm });
      expect(ssl[protocol]!.test1!.mreMm).toBe(direct.overall.mreMm);
      expect(ssl[protocol]!.test1!.sdr).toEqual(Object.fromEntries(direct.overall.sdr.map((e) => [String(e.radiusMm), e.percent])));
    }

    // Typed search attributes and the progress query reflect the finished run.
    const attrs = searchAttributesOf((await firstHandle.describe()) as never);
    expect(attrs).toMatchObject({ runId: first.runId, site: H.site, profile: 'smoke', stage: 'done', status: 'completed', datasetVersion: first.datasetVersion, progress: 1 });
    expect(attrs.mre).toBeCloseTo(first.mreMm!, 9);
    expect(await firstHandle.query(progressQuery)).toMatchObject({ stage: 'done', status: 'completed', fraction: 1 });
    // Small history (keys and metrics only): well inside Temporal's budget (docs/reliability.md#f11).
    const history = await firstHandle.fetchHistory();
    expect(history.events!.length).toBeLessThan(400);
    expect(History.encode(history).finish().length).toBeLessThan(256 * 1024);
  }, 180_000);

  it('a finished run\'s id is never reused: a new run under it is refused before it starts', async () => {
    await expect(H.start(H.input(), first.runId)).rejects.toThrow(new RegExp(`a run with id ${first.runId} already exists: give another --run-id`));
    expect((await H.client.workflow.getHandle(first.runId).describe()).status.name).toBe('COMPLETED');
  });

  it('`eval --compute-ssl` recomputes the SSL stage of a finished run and stores it beside the published files', async () => {
    const manifestBefore = await H.deps.store.get(first.manifestKey);
    const { doc, ref, source } = await computeRunSslStage(H.deps.store, first.runId, { backend: H.deps.backend(), codeVersion: H.deps.codeVersion });
    expect(source).toMatchObject({ datasetVersion: first.datasetVersion, templateId: H.dataset.train[1], sslWeights: { key: first.artifacts.sslWeights.key } });
    expect(doc.summary).toEqual(first.sslMetrics);
    expect(ref.key).toBe(`${runPrefix(first.runId)}/eval/ssl-metrics-${ref.sha256}.json`);
    expect((await storedSslStages(H.deps.store, first.runId)).map((s) => s.key)).toEqual([ref.key]);
    // Content-addressed and idempotent; the published manifest is untouched and still verifies.
    expect((await computeRunSslStage(H.deps.store, first.runId, { backend: H.deps.backend(), codeVersion: H.deps.codeVersion })).ref).toEqual(ref);
    expect(await H.deps.store.get(first.manifestKey)).toEqual(manifestBefore);
    await readManifest(H.deps.store, runPrefix(first.runId), { verify: 'hashes' });
  }, 60_000);

  it('`runs list` (Temporal visibility) finds the run, with its MRE', async () => {
    const row = await eventually(async () => (await listRuns({ site: H.site })).find((r) => r.runId === first.runId && r.mreMm !== null));
    expect(row).toMatchObject({ runId: first.runId, site: H.site, status: 'completed', profile: 'smoke', datasetVersion: first.datasetVersion });
    expect(row.mreMm).toBeCloseTo(first.mreMm!, 9);
  });

  it('the final model beats copying the template and the untrained network (accuracy gate, recomputed from S3)', async () => {
    const input = H.input({ overrides: GATE_OVERRIDES });
    const run = await (await H.start(input)).result();
    const s = await scoreRun(H.deps.store, run, input, H.dataset.train);
    console.log(`accuracy gate (MRE mm, protocol A / B): model ${s.model.A.toFixed(3)} / ${s.model.B.toFixed(3)}, template copy ${s.templateCopy.A.toFixed(3)} / ${s.templateCopy.B.toFixed(3)}, untrained ${s.untrained.A.toFixed(3)} / ${s.untrained.B.toFixed(3)}, (0,0) ${s.origin.A.toFixed(3)}`);
    await expectStoredMetricsRecomputed(run, s, H.deps.store);
    for (const protocol of ['A', 'B'] as const) {
      expect(accuracyGateFailures(s.model[protocol], gateBaselines(s, protocol))).toEqual([]);
      // The gate is not vacuous: the trivial predictors themselves fail it.
      expect(accuracyGateFailures(s.templateCopy[protocol], gateBaselines(s, protocol))).not.toEqual([]);
      expect(accuracyGateFailures(s.origin[protocol], gateBaselines(s, protocol))).not.toEqual([]);
    }
  }, 600_000);

  it('rejects invalid configs before any workflow starts, naming the field and the rule', async () => {
    const dataset = H.dataset.root;
    const bad = async (flags: Parameters<typeof loadRunConfig>[0]) => {
      try {
        await preflight(await loadRunConfig({ dataset, site: `${H.site}-bad`, ...flags }, {}), H.stack.settings);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidConfigError);
        return (err as Error).message;
      }
      throw new Error('config was accepted');
    };
    expect(await bad({ template: H.dataset.test1[0] })).toMatch(/config\.templateId: "007" is in test split "test1".*rule B6/);
    expect(await bad({ template: '099' })).toMatch(/config\.templateId: "099" is not in the dataset's train split/);
    expect(await bad({ profile: 'fast' })).toMatch(/config\.profile: /);
    expect(await bad({ set: ['overrides.ssl.steps=0'] })).toMatch(/config\.overrides\.ssl\.steps: /);
    expect(await bad({ set: ['temperature=0.1'] })).toMatch(/config: Unrecognized key.*temperature/);
    expect(await bad({ set: ['split.trainIds=[001, 003]'], template: '002' })).toMatch(/config\.templateId: "002" must be one of split\.trainIds/);
    // A folder that is no dataset: what it lacks, not an empty split.
    expect(await bad({ dataset: path.join(dataset, 'RawImage') })).toMatch(/config\.dataset\.dir: .*RawImage has neither images\/ \(a site folder\) nor RawImage\/ \(the ISBI 2015 layout\)/);
    expect(await bad({ dataset: path.join(dataset, 'no-such-folder') })).toMatch(/config\.dataset\.dir: .*no-such-folder is not a folder \(from --dataset, the config file, ISBI_DIR/);
    const runs = await listRuns({ site: `${H.site}-bad` });
    expect(runs).toEqual([]);
  });

  it('fans pseudo-labelling out over two GPU workers; the union equals the unsharded run', async () => {
    // A second GPU worker with its own connection (one worker per queue per connection).
    await H.workers(['gpu'], 'worker-b', { ownConnection: true });
    const sharded = await (await H.start(H.input({ pseudoLabelShards: 3 }))).result();
    const single = await (await H.start(H.input({ pseudoLabelShards: 1 }))).result();
    const merged = async (r: PipelineResult) => {
      const out: Record<string, unknown> = {};
      for (const ref of r.artifacts.pseudoLabels) Object.assign(out, (JSON.parse(new TextDecoder().decode(await H.deps.store.get(ref.key, ref.sha256))) as PseudoLabelFile).labels);
      return out;
    };
    expect(sharded.artifacts.pseudoLabels).toHaveLength(3);
    expect(single.artifacts.pseudoLabels).toHaveLength(1);
    expect(Object.keys(await merged(sharded)).sort()).toEqual(H.dataset.train);
    expect(await merged(sharded)).toEqual(await merged(single));
    // Same pseudo-labels + same seed → the same TPL model and metrics.
    expect(sharded.artifacts.tplWeights.sha256).toBe(single.artifacts.tplWeights.sha256);
    expect(sharded.metrics).toEqual(single.metrics);
    expect(sharded.sslMetrics).toEqual(first.sslMetrics); // same SSL weights → same SSL stage
    expect(sharded.artifacts.sslWeights.sha256).toBe(first.artifacts.sslWeights.sha256);

    // Both workers took shards (history: who started each generatePseudoLabels task).
    const history = await H.client.workflow.getHandle(sharded.runId).fetchHistory();
    const scheduled = new Map<string, string>();
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s?.activityType?.name === 'generatePseudoLabels') scheduled.set(String(e.eventId), 'shard');
    }
    const identities = new Set<string>();
    for (const e of history.events ?? []) {
      const st = e.activityTaskStartedEventAttributes;
      if (st && scheduled.has(String(st.scheduledEventId))) identities.add(st.identity ?? '');
    }
    expect([...identities].sort()).toEqual(['worker-a/gpu', 'worker-b/gpu']);
  }, 240_000);

  it('a scheduled run of an unchanged site reuses the dataset version', async () => {
    const handle = await createSiteSchedule(H.client, H.input(), { every: '24h', workflowTaskQueue: H.queues.workflows });
    try {
      const d = await handle.describe();
      expect(d.policies.overlap).toBe('SKIP');
      await handle.trigger();
      const runId = await eventually(async () => (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId);
      expect(runId.startsWith(`cc2d-${H.site}-sched`)).toBe(true);
      const r = (await H.client.workflow.getHandle(runId).result()) as PipelineResult;
      expect(r.datasetReused).toBe(true);
      expect(r.datasetVersion).toBe(first.datasetVersion);
      const report = JSON.parse(new TextDecoder().decode(await H.deps.store.get(r.reportKey))) as { lineage: { scheduleId?: string } };
      expect(report.lineage.scheduleId).toBe(scheduleIdOf(H.site));
      const attrs = searchAttributesOf((await H.client.workflow.getHandle(runId).describe()) as never);
      expect(attrs).toMatchObject({ runId, site: H.site, status: 'completed' });
    } finally {
      await handle.delete();
    }
  }, 180_000);

  it('`resume` re-executes a failed run under the same id, reusing finished stages and kept objects', async () => {
    // Break evaluation only: hide one test image of the (content-addressed) dataset version.
    const key = `${datasetPrefix(first.datasetVersion)}/${DATASET_FILES.image(64, H.dataset.test1[0]!)}`;
    const bytes = await H.deps.store.get(key);
    await H.deps.store.delete([key]);
    const runId = H.runId('resume');
    let failure: unknown;
    try {
      failure = await (await H.start(H.input(), runId)).result().catch((e: unknown) => e);
    } finally {
      await H.deps.store.put(key, bytes, { contentType: 'image/png' });
    }
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(String((failure as WorkflowFailedError).cause?.cause)).toMatch(/image .*007\.png not found/);
    // `cc2d status` says why it failed, after the fact.
    expect(await runStatus(H.client, runId)).toMatchObject({ workflowStatus: 'FAILED', status: 'failed', failure: expect.stringMatching(/image .*007\.png not found/) });
    // A failed run keeps its unpublished objects (done markers, checkpoints, weights) for resume.
    const sslDone = JSON.parse(new TextDecoder().decode(await H.deps.store.get(`${runPrefix(runId)}/ssl/done.json`))) as { output: { durationMs: number; weights: { sha256: string } } };
    expect(await isPublished(H.deps.store, runPrefix(runId))).toBe(false);

    await resumeRun(H.client, runId);
    const r = (await H.client.workflow.getHandle(runId).result()) as PipelineResult;
    expect(r.runId).toBe(runId);
    expect(r.artifacts.sslWeights.sha256).toBe(sslDone.output.weights.sha256);
    expect(r.metrics).toEqual(first.metrics);
    const report = JSON.parse(new TextDecoder().decode(await H.deps.store.get(r.reportKey))) as { stages: { ssl: { durationMs: number } } };
    expect(report.stages.ssl.durationMs).toBe(sslDone.output.durationMs); // the stored SSL result, not a retrain
    expect(searchAttributesOf((await H.client.workflow.getHandle(runId).describe()) as never)).toMatchObject({ status: 'completed', stage: 'done' });
    // Listed once, as its latest execution: not also as the failed one, and not under --status failed.
    let rows: Awaited<ReturnType<typeof listRuns>> = [];
    for (let i = 0; i < 40; i++, await new Promise((r) => setTimeout(r, 500))) {
      rows = (await listRuns({ site: H.site })).filter((x) => x.runId === runId);
      if (rows.length === 1 && rows[0]!.status === 'completed') break;
    }
    expect(rows.map((x) => x.status)).toEqual(['completed']);
    expect((await listRuns({ site: H.site, status: 'failed' })).map((x) => x.runId)).not.toContain(runId);
  }, 180_000);

  it('replays the recorded history of a real run, and the committed fixture history, without nondeterminism', async () => {
    const history = await firstHandle.fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: H.bundle }, history, first.runId);
    // CC2D_RECORD_HISTORY=1 re-records the fixture (only after a deliberate, patched() workflow change).
    // Binary protobuf: historyToJSON/historyFromJSON fail in this install (two nested protobufjs 8 copies).
    if (process.env.CC2D_RECORD_HISTORY) {
      await mkdir(path.dirname(FIXTURE_HISTORY), { recursive: true });
      await writeFile(FIXTURE_HISTORY, History.encode(history).finish());
    }
    const fixture = History.decode(await readFile(FIXTURE_HISTORY));
    expect(fixture.events.length).toBeGreaterThan(50);
    await Worker.runReplayHistory({ workflowBundle: H.bundle }, fixture, 'fixture');
  });

  it("leaves nothing in the user's Temporal namespace or S3 prefix: `runs list` shows only the user's runs", async () => {
    const user = userStackSettings();
    expect(H.client.options.namespace).not.toBe(user.temporal.namespace);
    const runIds = H.started;
    const inNamespace = async (client: Client) => {
      const ids: string[] = [];
      for await (const wf of client.workflow.list({ query: listQuery({ site: H.site }) })) ids.push(wf.workflowId);
      return ids;
    };
    // The query is not vacuous: the tests' namespace has every run of this file.
    expect(await inNamespace(H.client)).toEqual(expect.arrayContaining(runIds));
    const userClient = new Client({ connection: H.client.connection, namespace: user.temporal.namespace });
    expect(await inNamespace(userClient)).toEqual([]);
    for (const id of runIds) {
      await expect(userClient.workflow.getHandle(id).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    }
    await expect(userClient.schedule.getHandle(scheduleIdOf(H.site)).describe()).rejects.toThrow(/not found/i);
    // S3: the runs live under this file's test prefix (deleted and checked by cleanup), not the user's runs/.
    const userStore = createS3Store(user);
    try {
      expect(await userStore.list(runPrefix(`cc2d-${H.site}`))).toEqual([]);
    } finally {
      userStore.destroy();
    }
  });
});
