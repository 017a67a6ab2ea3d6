/**
 * On the REAL Temporal dev server and REAL S3 (smoke profile, synthetic ISBI-layout dataset):
 * the `progress` query's overall fraction moves WITHIN the SSL stage and carries an ETA from the
 * measured step rate; `cc2d compare` of two runs with different configs names the changed fields
 * and shows both runs' metrics as their results state them.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineProgress, PipelineResult } from '../../contracts/types';
import type { RunComparison } from '../../infra/compare';
import { progressQuery, runStages } from '../../workflows/definitions';
import { overallFraction, plannedStepsOf } from '../../workflows/progress';
import { createHarness, type PipelineHarness } from './support/harness';

const h = await createHarness('compare-progress');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const execFileP = promisify(execFile);

describe.skipIf(!h)('progress within a stage, and compare, on the real stack', () => {
  const H = h as PipelineHarness;
  let a: PipelineResult;
  let b: PipelineResult;

  beforeAll(async () => {
    // Frequent progress signals, so a short SSL stage reports several times.
    H.deps.progress = { signalEveryMs: 200, maxSignals: 200 };
    await H.workers(['workflows', 'gpu', 'cpu'], 'compare');
  });
  afterAll(() => H.cleanup());

  it("the progress query's fraction increases within the SSL stage, with an ETA from the step rate", async () => {
    const input = H.input({ overrides: { ssl: { steps: 60 } } });
    const handle = await H.start(input);
    const inSsl: PipelineProgress[] = [];
    let done = false;
    const result = handle.result().finally(() => {
      done = true;
    });
    while (!done) {
      const p = await handle.query(progressQuery).catch(() => undefined);
      if (p?.stage === 'ssl') inSsl.push(p);
      await new Promise((r) => setTimeout(r, 150));
    }
    a = await result;
    const fractions = inSsl.map((p) => p.fraction);
    console.log(`SSL stage: ${inSsl.length} samples, fractions ${[...new Set(fractions)].join(', ')}`);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]!).toBeGreaterThanOrEqual(fractions[i - 1]!);
    expect(new Set(fractions).size).toBeGreaterThanOrEqual(3);
    // SSL's share of the bar under the cost model of the planned steps (workflows/progress.ts):
    // the stage weights would start it at 6 % and end it at 56 %.
    const sslAt = (step: number): number => overallFraction({
      stagesDone: ['ingest', 'plan'], stage: 'ssl', step, totalSteps: 60,
      stages: runStages(input.profile.refine !== undefined), plannedSteps: plannedStepsOf(input.profile), fractionByCost: true,
    });
    const [start, end] = [sslAt(0), sslAt(60)];
    console.log(`SSL's share of the bar: ${start} → ${end}`);
    expect(end - start).toBeGreaterThan(0.1);
    // Each answer's fraction is the cost share of the step it reports (the weights give others), or
    // of an earlier step if a retried attempt resumed behind it: the bar never moves back.
    let highest = 0;
    for (const p of inSsl) {
      highest = Math.max(highest, sslAt(p.step));
      expect(p.fraction).toBeCloseTo(highest, 3);
    }
    // The last step's report can reach the end before the stage changes, so the bounds are
    // inclusive and some sample must lie strictly inside the stage.
    expect(Math.min(...fractions)).toBeGreaterThanOrEqual(start);
    expect(Math.max(...fractions)).toBeLessThanOrEqual(end);
    expect(fractions.filter((f) => f > start && f < end).length).toBeGreaterThanOrEqual(2);
    const measured = inSsl.filter((p) => p.etaSeconds !== undefined);
    expect(measured.length).toBeGreaterThan(0);
    for (const p of measured) {
      expect(p.stepsPerSecond!).toBeGreaterThan(0);
      expect(p.stageEtaSeconds!).toBeLessThanOrEqual(p.etaSeconds!);
      expect(Number.isFinite(Date.parse(p.measuredAt!))).toBe(true);
    }
    expect(await handle.query(progressQuery)).toMatchObject({ stage: 'done', fraction: 1 });
  }, 300_000);

  it('`cc2d compare` names the changed config fields and shows both runs\' metrics with deltas', async () => {
    b = await (await H.start(H.input({ seed: 7 }))).result();
    const cc2d = (args: string[]) =>
      execFileP(process.execPath, [path.join(ROOT, 'bin/cc2d.mjs'), ...args], {
        cwd: ROOT, env: { ...process.env, CC2D_S3_PREFIX: H.stack.settings.s3.prefix }, timeout: 120_000,
      });
    const json = JSON.parse((await cc2d(['compare', a.runId, b.runId, '--json'])).stdout.trim().split('\n').at(-1)!) as RunComparison;
    const paths = json.configChanges.map((c) => c.path);
    expect(json.configChanges).toContainEqual({ path: 'config.seed', a: 2022, b: 7 });
    expect(json.configChanges).toContainEqual({ path: 'profile.ssl.steps', a: 60, b: 12 });
    expect(paths).toContain('config.overrides.ssl');
    expect(paths.filter((p) => p.startsWith('lineage.'))).toEqual([]); // same dataset version and code
    for (const protocol of ['A', 'B'] as const) {
      const set = json.sets.find((s) => s.stage === 'final' && s.protocol === protocol && s.split === 'test1')!;
      expect(set.mre.a).toBeCloseTo(a.metrics[protocol]!.test1!.mreMm, 9);
      expect(set.mre.b).toBeCloseTo(b.metrics[protocol]!.test1!.mreMm, 9);
      expect(set.mre.delta).toBeCloseTo(set.mre.b! - set.mre.a!, 12);
      expect(set.landmarks).toHaveLength(19);
      const ssl = json.sets.find((s) => s.stage === 'ssl' && s.protocol === protocol && s.split === 'test1')!;
      expect(ssl.mre.a).toBeCloseTo(a.sslMetrics![protocol]!.test1!.mreMm, 9);
    }
    expect(json.curves.find((c) => c.stage === 'final' && c.protocol === 'A')!.a).toHaveLength(101);

    const text = (await cc2d(['compare', a.runId, b.runId])).stdout;
    expect(text).toMatch(/config\.seed\s+2022 → 7/);
    expect(text).toMatch(/profile\.ssl\.steps\s+60 → 12/);
    expect(text).toContain('final (TPL) A Test1');
  }, 300_000);
});
