/**
 * The SSL stage's cache key reads the training images, not the labels, on the REAL Temporal dev
 * server and REAL S3 (smoke profile, synthetic ISBI-layout data): SSL weights trained by a
 * template suggestion (`cc2dSuggestTemplate`) are reused by a run on the same images with a
 * changed label file (a new dataset version), while its pseudo-labels and TPL are computed; a
 * run on the original labels reuses SSL again but not the other run's pseudo-labels or TPL; a
 * changed training image misses SSL. The key fields are unit-tested in test/infra/stage-cache.test.ts.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestActivities } from '../../activities/ingest-dataset';
import type { PipelineResult, SuggestTemplateInput, SuggestTemplateResult } from '../../contracts/types';
import { SUGGEST_TEMPLATE_WORKFLOW_TYPE } from '../../infra/config/names';
import { DatasetReader } from '../../infra/dataset/reader';
import { runPrefix } from '../../infra/storage/keys';
import { readManifest } from '../../infra/storage/manifest';
import { createHarness, type PipelineHarness } from './support/harness';
import { syntheticImage } from './support/synthetic-isbi';

const h = await createHarness('ssl-key');

type History = Awaited<ReturnType<Awaited<ReturnType<PipelineHarness['start']>>['fetchHistory']>>;

/** Names of the activities a history scheduled. */
function scheduled(history: History): string[] {
  return (history.events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
}

describe.skipIf(!h)('SSL stage key: training images, not labels', () => {
  const H = h as PipelineHarness;
  const base = { root: '', cleanup: async () => undefined as void };
  let labelled = '';
  let reimaged = '';
  let suggestion: SuggestTemplateResult & { workflowId: string };
  const histories: Record<string, History> = {};

  async function run(tag: string, dir: string): Promise<PipelineResult> {
    const handle = await H.start(H.input({ cache: true, dataset: { dir } }), H.runId(tag));
    const result = await handle.result();
    histories[tag] = await handle.fetchHistory();
    return result;
  }

  beforeAll(async () => {
    await H.workers(['workflows', 'gpu', 'cpu']);
    base.root = await mkdtemp(path.join(os.tmpdir(), 'cc2d-ssl-key-'));
    base.cleanup = () => rm(base.root, { recursive: true, force: true });
    // The same folder with the template's senior annotation moved 2 px (a new dataset version, same images)...
    labelled = path.join(base.root, 'labelled');
    await cp(H.dataset.root, labelled, { recursive: true });
    const template = H.dataset.train[1]!;
    const labels = path.join(labelled, 'AnnotationsByMD', '400_senior', `${template}.txt`);
    const [first, ...rest] = (await readFile(labels, 'utf8')).split('\n');
    const [x, y] = first!.split(',').map(Number);
    await writeFile(labels, [`${x! + 2},${y}`, ...rest].join('\n'));
    // ... and with one training image (not the template) replaced.
    reimaged = path.join(base.root, 'reimaged');
    await cp(H.dataset.root, reimaged, { recursive: true });
    await writeFile(path.join(reimaged, 'RawImage', 'TrainingData', `${H.dataset.train[3]!}.png`), (await syntheticImage(999)).png);

    // A template suggestion on the original folder trains SSL (nothing cached yet).
    const input = H.input();
    const { datasetVersion } = await createIngestActivities({ store: H.deps.store }).ingestDataset({
      datasetDir: H.dataset.root, sizes: [input.profile.inputSize], site: input.config.site,
    });
    const trainIds = (await new DatasetReader(H.deps.store, datasetVersion).split()).train ?? [];
    const suggest: SuggestTemplateInput = {
      site: input.config.site, datasetVersion, profile: input.profile, seed: input.config.seed, trainIds, candidateIds: trainIds,
      heartbeatTimeoutSeconds: 10, taskQueues: { gpu: H.queues.gpu, cpu: H.queues.cpu },
    };
    const workflowId = H.runId('suggest');
    const handle = await H.client.workflow.start(SUGGEST_TEMPLATE_WORKFLOW_TYPE, { taskQueue: H.queues.workflows, workflowId, args: [suggest] });
    suggestion = { ...((await handle.result()) as SuggestTemplateResult), workflowId };
    histories.suggest = await handle.fetchHistory();
  }, 600_000);
  afterAll(async () => {
    await base.cleanup();
    await H.cleanup();
  });

  it('the suggestion trains SSL, publishes it under its own prefix and records it in the stage cache', async () => {
    expect(suggestion.sslFrom).toBe('trained');
    expect(suggestion.sslWeights.key.startsWith(`${runPrefix(suggestion.workflowId)}/ssl/`)).toBe(true);
    expect(scheduled(histories.suggest!)).toEqual(expect.arrayContaining(['trainSelfSupervised', 'recordSuggestedSsl', 'rankTemplates']));
    const manifest = await readManifest(H.deps.store, runPrefix(suggestion.workflowId));
    expect(manifest.meta.kind).toBe('cc2d-ssl-suggestion');
    expect(manifest.files.map((f) => f.key)).toContain(suggestion.sslWeights.key.slice(runPrefix(suggestion.workflowId).length + 1));
  });

  it('a changed label file reuses the suggestion\'s SSL and recomputes pseudo-labels and TPL', async () => {
    const r = await run('labelled', labelled);
    expect(r.datasetVersion).not.toBe(suggestion.datasetVersion);
    expect(r.reusedFrom).toEqual({ ssl: suggestion.workflowId });
    expect(r.artifacts.sslWeights).toMatchObject(suggestion.sslWeights);
    const activities = scheduled(histories.labelled!);
    expect(activities).not.toContain('trainSelfSupervised');
    expect(activities).toEqual(expect.arrayContaining(['generatePseudoLabels', 'trainSupervised']));

    // The original labels: SSL reused again, but not the labelled run's pseudo-labels or TPL.
    const original = await run('original', H.dataset.root);
    expect(original.datasetVersion).toBe(suggestion.datasetVersion);
    expect(original.reusedFrom).toEqual({ ssl: suggestion.workflowId });
    expect(scheduled(histories.original!)).not.toContain('trainSelfSupervised');
    expect(original.artifacts.tplWeights.key.startsWith(`${runPrefix(original.runId)}/`)).toBe(true);
  }, 600_000);

  it('a changed training image misses SSL (and so every later stage)', async () => {
    const r = await run('reimaged', reimaged);
    expect(r.reusedFrom).toBeUndefined();
    expect(scheduled(histories.reimaged!)).toContain('trainSelfSupervised');
    expect(r.artifacts.sslWeights.key.startsWith(`${runPrefix(r.runId)}/`)).toBe(true);
  }, 600_000);

  it('replays its histories', async () => {
    for (const [tag, history] of Object.entries(histories)) await Worker.runReplayHistory({ workflowBundle: H.bundle }, history, tag);
  }, 300_000);
});
