/** The run's overall progress fraction and ETA (pure functions the workflow's tracker uses). */
import { describe, expect, it } from 'vitest';
import type { StageName } from '../../contracts/types';
import { STAGE_WEIGHTS, runStages } from '../../workflows/definitions';
import { STAGE_COST, STEP_COST, estimateEta, overallFraction, plannedStepsOf, stageFraction, stepsPerSecond } from '../../workflows/progress';
import { PROFILES } from '../../ml/profiles';

const before = { ingest: 0.05, plan: 0.01 };
const total = runStages(false).reduce((s, stage) => s + (STAGE_WEIGHTS[stage] ?? 0), 0);

describe('overall progress fraction', () => {
  it('moves within a stage by its step fraction (a cpu run no longer holds at 6 % through SSL)', () => {
    const ssl = (step: number) => overallFraction({ stagesDone: ['ingest', 'plan'], stage: 'ssl', step, totalSteps: 2000 });
    expect(ssl(0)).toBeCloseTo((before.ingest + before.plan) / total, 3);
    expect(ssl(1000)).toBeCloseTo((0.06 + 0.25) / total, 3);
    expect(ssl(2000)).toBeCloseTo((0.06 + 0.5) / total, 3);
    const series = [0, 20, 200, 999, 1500, 2000].map(ssl);
    for (let i = 1; i < series.length; i++) expect(series[i]!).toBeGreaterThan(series[i - 1]!);
  });

  it('equals the finished stages\' share at a boundary, 1 when every stage is done', () => {
    expect(overallFraction({ stagesDone: ['ingest', 'plan', 'ssl'], stage: 'ssl', step: 5, totalSteps: 10 })).toBeCloseTo(0.56 / total, 3);
    expect(overallFraction({ stagesDone: ['ingest', 'plan', 'ssl', 'pseudo-labels', 'tpl', 'evaluate', 'report'], stage: 'report', step: 0, totalSteps: 0 })).toBe(1);
    expect(overallFraction({ stagesDone: [], stage: 'queued', step: 0, totalSteps: 0 })).toBe(0);
  });

  it('a run that refines gives the refine stage its share: the bar moves through it instead of holding', () => {
    const stages = runStages(true);
    expect(stages).toContain('refine');
    expect(runStages(false)).not.toContain('refine');
    const refineWeight = STAGE_WEIGHTS.refine!;
    expect(refineWeight).toBeGreaterThan(0);
    const upToTpl = ['ingest', 'plan', 'ssl', 'pseudo-labels', 'tpl'] as const;
    const at = (step: number) => overallFraction({ stagesDone: [...upToTpl], stage: 'refine', step, totalSteps: 800, stages });
    const series = [0, 200, 400, 800].map(at);
    for (let i = 1; i < series.length; i++) expect(series[i]!).toBeGreaterThan(series[i - 1]!);
    expect(at(800) - at(0)).toBeCloseTo(refineWeight / (total + refineWeight), 3);
    expect(overallFraction({ stagesDone: [...upToTpl, 'refine', 'evaluate', 'report'], stage: 'report', step: 0, totalSteps: 0, stages })).toBe(1);
    // Without the run's stages (a run that does not refine), the same state reads as before.
    expect(overallFraction({ stagesDone: [...upToTpl], stage: 'evaluate', step: 0, totalSteps: 0 })).toBeCloseTo(0.93 / total, 3);
    // A run recorded before refinement had a weight (no stages passed) that does refine: the
    // refine stage adds nothing, so the bar does not reach 1 before evaluation; no ETA inside it.
    expect(overallFraction({ stagesDone: [...upToTpl], stage: 'refine', step: 800, totalSteps: 800 })).toBeCloseTo(0.93 / total, 3);
    expect(overallFraction({ stagesDone: [...upToTpl, 'refine'], stage: 'evaluate', step: 0, totalSteps: 0 })).toBeCloseTo(0.93 / total, 3);
    expect(estimateEta({ stagesDone: [...upToTpl], stage: 'refine', step: 100, totalSteps: 800 }, 2)).toBeUndefined();
    // The ETA counts refinement among the later stages of a run that refines.
    const ssl = { stagesDone: ['ingest', 'plan'] as ('ingest' | 'plan')[], stage: 'ssl' as const, step: 500, totalSteps: 2000 };
    expect(estimateEta({ ...ssl, stages }, 2)!.runSeconds - estimateEta(ssl, 2)!.runSeconds).toBe(Math.round(refineWeight * 2000));
  });

  it('counts shards for the pseudo-label fan-out; unknown or odd step counts add nothing or are clamped', () => {
    const done = ['ingest', 'plan', 'ssl'] as const;
    expect(stageFraction({ stagesDone: done, stage: 'pseudo-labels', step: 9, totalSteps: 10, shardsDone: 1, shardCount: 4 })).toBe(0.25);
    expect(stageFraction({ stagesDone: done, stage: 'tpl', step: 3, totalSteps: 0 })).toBe(0);
    expect(stageFraction({ stagesDone: done, stage: 'tpl', step: 30, totalSteps: 10 })).toBe(1);
    expect(stageFraction({ stagesDone: done, stage: 'tpl', step: Number.NaN, totalSteps: 10 })).toBe(0);
  });
});

describe('overall fraction shared by the cost model (runs started with the cost-progress patch)', () => {
  const plannedSteps = plannedStepsOf(PROFILES.cpu);
  const stages = runStages(true);
  const at = (stagesDone: StageName[], stage: StageName, step: number, totalSteps: number, fractionByCost = true): number =>
    overallFraction({ stagesDone, stage, step, totalSteps, stages, plannedSteps, fractionByCost });

  it("puts a cpu run's bar at the end of SSL where its time is, not at SSL's weight", () => {
    expect(plannedSteps).toEqual({ ssl: 6500, tpl: 1500, refine: 800 });
    // The whole fresh cpu run of 2026-12-01 (README "Results"): SSL 2861 s of 3294 s (87 %) after
    // an ingest of a few seconds; the weights put the end of SSL at half the bar.
    const endOfSsl = at(['ingest', 'plan', 'ssl'], 'ssl', 6500, 6500);
    expect(endOfSsl).toBeGreaterThan(0.86);
    expect(endOfSsl).toBeLessThan(0.9);
    const byWeight = 0.56 / (total + STAGE_WEIGHTS.refine!);
    expect(at(['ingest', 'plan', 'ssl'], 'ssl', 6500, 6500, false)).toBeCloseTo(byWeight, 3);
    // Without planned steps there is no cost to share by: the weights.
    expect(overallFraction({ stagesDone: ['ingest', 'plan', 'ssl'], stage: 'ssl', step: 0, totalSteps: 0, stages, fractionByCost: true })).toBeCloseTo(byWeight, 3);
  });

  it('moves monotonically through every step of every stage of a whole run, from 0 to 1', () => {
    const series: number[] = [at([], 'queued', 0, 0)];
    const done: StageName[] = [];
    for (const stage of stages) {
      const steps = plannedSteps[stage] ?? 10;
      for (let step = 0; step <= steps; step += Math.max(1, Math.floor(steps / 20))) series.push(at(done, stage, step, steps));
      done.push(stage);
      series.push(at(done, stage, steps, steps));
    }
    expect(series[0]).toBe(0);
    expect(series.at(-1)).toBe(1);
    for (let i = 1; i < series.length; i++) expect(series[i]!).toBeGreaterThanOrEqual(series[i - 1]!);
    // Every costed stage moves the bar within itself (the pseudo-label fan-out by its shards).
    const costed = stages.filter((s) => (STEP_COST[s] !== undefined ? plannedSteps[s] !== undefined : STAGE_COST[s] !== undefined));
    expect(costed).toEqual(['ssl', 'pseudo-labels', 'tpl', 'refine', 'evaluate', 'report']);
    for (const stage of costed) {
      const before = stages.slice(0, stages.indexOf(stage));
      const half = (shards: number): number => overallFraction({ stagesDone: before, stage, step: shards * 50, totalSteps: 100, shardsDone: shards, shardCount: 2, stages, plannedSteps, fractionByCost: true });
      expect(half(1), stage).toBeGreaterThan(half(0));
    }
  });
});

describe('step rate and ETA', () => {
  it('measures steps per second between two samples; nothing before time and steps advance', () => {
    expect(stepsPerSecond({ step: 100, atMs: 0 }, { step: 150, atMs: 25_000 })).toBe(2);
    expect(stepsPerSecond({ step: 100, atMs: 0 }, { step: 100, atMs: 25_000 })).toBeUndefined();
    expect(stepsPerSecond({ step: 100, atMs: 5 }, { step: 120, atMs: 5 })).toBeUndefined();
  });

  it('estimates the stage from its rate and the later stages by weight relative to it', () => {
    const p = { stagesDone: ['ingest', 'plan'] as const, stage: 'ssl' as const, step: 500, totalSteps: 2000 };
    const eta = estimateEta({ ...p, stagesDone: [...p.stagesDone] }, 2)!;
    expect(eta.stageSeconds).toBe(750);
    // SSL takes 1000 s at 2 steps/s for weight 0.5; the later stages weigh 0.44 → 880 s.
    expect(eta.runSeconds).toBe(750 + 880);
    expect(estimateEta({ ...p, stagesDone: [...p.stagesDone] }, undefined)).toBeUndefined();
    expect(estimateEta({ stagesDone: [], stage: 'queued', step: 0, totalSteps: 0 }, 3)).toBeUndefined();
    expect(estimateEta({ stagesDone: ['ingest', 'plan', 'ssl'], stage: 'pseudo-labels', step: 3, totalSteps: 9, shardCount: 2 }, 3)).toBeUndefined();
  });

  it('with the profile\'s planned steps, estimates the later stages by their steps, not by weight', () => {
    // A whole fresh `cpu` run (README "Results", 2026-12-01): SSL 6500 steps at 0.44 s/step (2861 s),
    // then pseudo-labels ≈ 11 s, TPL 301 s, refinement 98 s, evaluation 23 s: 3294 s in all.
    const plannedSteps = { ssl: 6500, tpl: 1500, refine: 800 };
    const atStart = { stagesDone: ['ingest', 'plan'] as StageName[], stage: 'ssl' as const, step: 1, totalSteps: 6500, stages: runStages(true) };
    const modelled = estimateEta({ ...atStart, plannedSteps }, 1 / 0.44)!;
    expect(Math.abs(modelled.runSeconds - 3294) / 3294).toBeLessThan(0.05);
    // The weights alone make that run last 1.8× as long.
    expect(estimateEta(atStart, 1 / 0.44)!.runSeconds).toBeGreaterThan(1.8 * 3294);
    // During TPL (0.2 s/step), the rest is refinement, evaluation and the report.
    const inTpl = { stagesDone: ['ingest', 'plan', 'ssl', 'pseudo-labels'] as StageName[], stage: 'tpl' as const, step: 500, totalSteps: 1500, stages: runStages(true), plannedSteps };
    const eta = estimateEta(inTpl, 5)!;
    expect(eta.stageSeconds).toBe(200);
    const unitSeconds = 1 / (5 * STEP_COST.tpl!);
    expect(eta.runSeconds).toBe(Math.round(200 + (800 * STEP_COST.refine! + STAGE_COST.evaluate! + STAGE_COST.report!) * unitSeconds));
    // One pseudo-label shard: its own duration (totalSteps / rate) is STAGE_COST units.
    const inPseudo = { stagesDone: ['ingest', 'plan', 'ssl'] as StageName[], stage: 'pseudo-labels' as const, step: 0, totalSteps: 150, shardCount: 1, stages: runStages(true), plannedSteps };
    const pseudoUnit = 150 / 15 / STAGE_COST['pseudo-labels']!;
    expect(estimateEta(inPseudo, 15)!.runSeconds).toBe(Math.round(10 + (1500 * STEP_COST.tpl! + 800 * STEP_COST.refine! + STAGE_COST.evaluate! + STAGE_COST.report!) * pseudoUnit));
    // A run without refinement has no refinement to wait for.
    expect(estimateEta({ ...inTpl, stages: runStages(false) }, 5)!.runSeconds).toBe(Math.round(200 + (STAGE_COST.evaluate! + STAGE_COST.report!) * unitSeconds));
  });
});
