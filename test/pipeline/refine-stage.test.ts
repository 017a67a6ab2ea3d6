/**
 * The full-resolution refinement stage end to end on the REAL Temporal dev server and REAL S3,
 * switched on in a smoke run through the run config (`overrides.refine`): the dataset is ingested
 * at the refinement size too, `trainRefiner` trains between TPL and evaluation with checkpoints
 * and a loss log, its weights are published with the run, evaluation applies them (the stored
 * predictions are no longer on whole grid cells) and the report draws its loss curve; with
 * `refine.maxRoundTrip` the stage leaves far-travelling pseudo-labels out and the report counts them;
 * with `tpl.maxRoundTrip` the TPL stage does the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../infra/storage/manifest';
import { runPrefix } from '../../infra/storage/keys';
import { createHarness, type PipelineHarness } from './support/harness';

const h = await createHarness('refine-stage');

const REFINE = { inputSize: 128, patch: 16, channels: 4, batch: 8, steps: 6, lrDecaySteps: [4], jitter: 4, checkpointEvery: 3 };

describe.skipIf(!h)('refinement stage in the pipeline', () => {
  const H = h as PipelineHarness;
  beforeAll(async () => {
    await H.workers(['workflows', 'gpu', 'cpu'], 'worker-refine');
  });
  afterAll(() => H.cleanup());
  // The first run's refinement weights: the second differs from it only by refine.maxRoundTrip.
  let unmaskedRefineSha: string | undefined;
  let unmaskedTplSha: string | undefined;
  let firstPseudoLabelShas: string[] | undefined;

  it('trains between TPL and evaluation, publishes its weights and loss curve, and refines the predictions', async () => {
    // maxRoundTrip null, as `--set overrides.refine.maxRoundTrip=null` switches a profile's filter
    // off: the workflow passes no SSL weights and the stage must train on every pseudo-label.
    const input = H.input({ overrides: { refine: { ...REFINE, maxRoundTrip: null } } });
    expect(input.profile.refine).toMatchObject({ ...REFINE, landmarkMode: 'heads', passes: 1, maxRoundTrip: null });
    const handle = await H.start(input);
    const run = await handle.result();
    expect(run.status).toBe('completed');
    expect(Number.isFinite(run.mreMm)).toBe(true);
    const refineWeights = run.artifacts.refineWeights!;
    unmaskedRefineSha = refineWeights.sha256;
    unmaskedTplSha = run.artifacts.tplWeights.sha256;
    firstPseudoLabelShas = run.artifacts.pseudoLabels.map((r) => r.sha256);
    expect(refineWeights.key).toMatch(/\/refine\/weights-[0-9a-f]{64}\.bin$/);

    const manifest = await readManifest(H.deps.store, runPrefix(run.runId), { verify: 'hashes' });
    const listed = manifest.files.map((f) => f.key);
    expect(listed).toContain(refineWeights.key.slice(runPrefix(run.runId).length + 1));
    expect(listed.some((k) => /^refine\/loss-[0-9a-f]{64}\.json$/.test(k))).toBe(true);

    const report = JSON.parse(new TextDecoder().decode(await H.deps.store.get(run.reportKey))) as { stages: Record<string, { steps: number; leftOutLabels?: unknown }> };
    expect(report.stages.refine!.steps).toBe(REFINE.steps);
    expect(report.stages.refine).not.toHaveProperty('leftOutLabels');
    const html = new TextDecoder().decode(await H.deps.store.get(run.artifacts.reportHtml!.key));
    expect(html).toContain('Refinement: full-resolution patches');
    expect(html).not.toContain('class="left-out"');

    // Refined points come back unrounded from the finer grid: not all on whole cells.
    const predictions = JSON.parse(new TextDecoder().decode(await H.deps.store.get(run.artifacts.predictions.key))) as { predictionsYx: Record<string, number[][]> };
    const coords = Object.values(predictions.predictionsYx).flat(2);
    expect(coords.some((v) => !Number.isInteger(v))).toBe(true);
  });

  it('with maxRoundTrip, leaves the pseudo-labels that come back far out of training and reports how many', async () => {
    const maxRoundTrip = 12;
    const input = H.input({ overrides: { refine: { ...REFINE, maxRoundTrip } } });
    const run = await (await H.start(input)).result();
    expect(run.status).toBe('completed');
    const report = JSON.parse(new TextDecoder().decode(await H.deps.store.get(run.reportKey))) as {
      lineage: { templateId: string };
      plan: { trainIds: string[]; landmarkCount: number };
      stages: Record<string, { leftOutLabels?: { count: number; of: number; maxRoundTrip: number } }>;
    };
    const leftOut = report.stages.refine!.leftOutLabels!;
    // Every landmark of every training image but the template (whose landmarks always train); the
    // smoke run's barely trained SSL network sends many labels back elsewhere: at 12 cells some are
    // left out and some train.
    const pseudoLabelled = report.plan.trainIds.filter((id) => id !== report.lineage.templateId).length;
    expect(leftOut).toMatchObject({ of: pseudoLabelled * report.plan.landmarkCount, maxRoundTrip });
    expect(leftOut.count).toBeGreaterThan(0);
    expect(leftOut.count).toBeLessThan(leftOut.of);
    // The mask reached the trainer: same run otherwise, other weights.
    expect(unmaskedRefineSha).toBeDefined();
    expect(run.artifacts.refineWeights!.sha256).not.toBe(unmaskedRefineSha);
    // The count is kept with the weights (a retry that finds the stage done returns it).
    const done = JSON.parse(new TextDecoder().decode(await H.deps.store.get(`${runPrefix(run.runId)}/refine/done.json`))) as { output: { leftOutLabels?: unknown } };
    expect(done.output.leftOutLabels).toEqual(leftOut);
    // And shown in the HTML report.
    const html = new TextDecoder().decode(await H.deps.store.get(run.artifacts.reportHtml!.key));
    expect(html).toContain(`did not train on <b>${leftOut.count} of ${leftOut.of}</b> pseudo-labels`);
  });

  it('with tpl.maxRoundTrip, the TPL stage leaves them out too (same pseudo-labels, other TPL weights), and the report counts them per stage', async () => {
    const maxRoundTrip = 12;
    // The harness's runs recompute every stage (no stage cache), so this run's SSL weights and
    // pseudo-labels equal the first run's: only TPL's limit differs.
    const input = H.input({ overrides: { refine: { ...REFINE, maxRoundTrip: null }, tpl: { maxRoundTrip } } });
    const run = await (await H.start(input)).result();
    expect(run.status).toBe('completed');
    expect(run.artifacts.pseudoLabels.map((r) => r.sha256)).toEqual(firstPseudoLabelShas);
    const report = JSON.parse(new TextDecoder().decode(await H.deps.store.get(run.reportKey))) as {
      plan: { trainIds: string[]; landmarkCount: number };
      stages: Record<string, { leftOutLabels?: { count: number; of: number; maxRoundTrip: number } }>;
    };
    const leftOut = report.stages.tpl!.leftOutLabels!;
    // TPL trains on every training image's pseudo-labels, the template's included.
    expect(leftOut).toMatchObject({ of: report.plan.trainIds.length * report.plan.landmarkCount, maxRoundTrip });
    expect(leftOut.count).toBeGreaterThan(0);
    expect(leftOut.count).toBeLessThan(leftOut.of);
    expect(report.stages.refine).not.toHaveProperty('leftOutLabels');
    // The mask reached the TPL trainer: same pseudo-labels, other weights.
    expect(unmaskedTplSha).toBeDefined();
    expect(run.artifacts.tplWeights.sha256).not.toBe(unmaskedTplSha);
    const done = JSON.parse(new TextDecoder().decode(await H.deps.store.get(`${runPrefix(run.runId)}/tpl/done.json`))) as { output: { leftOutLabels?: unknown } };
    expect(done.output.leftOutLabels).toEqual(leftOut);
    const html = new TextDecoder().decode(await H.deps.store.get(run.artifacts.reportHtml!.key));
    expect(html).toContain(`The TPL stage did not train on <b>${leftOut.count} of ${leftOut.of}</b> pseudo-labels`);
    expect(html).not.toContain('The refinement stage did not train on');
  });
});
