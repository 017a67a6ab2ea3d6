/**
 * The run's overall progress and ETA, as pure functions of the progress state (no clock, no
 * Temporal): the tracker calls them with workflow time, tests call them directly.
 *
 * The overall fraction counts the finished stages by their share plus the running stage's share
 * times its own fraction (steps done / total, or shards done for the pseudo-label fan-out), so a
 * long stage moves the bar instead of holding it until its end. A stage's share is its cost in
 * the cost model below (from the profile's planned steps) when the run asks for it
 * (`fractionByCost`), else its fixed weight (workflows/definitions.ts), which runs started before
 * the cost model keep so that their histories replay unchanged.
 */
import type { StageName } from '../contracts/types';
import { STAGE_WEIGHTS, runStages } from './definitions';

export interface StageState {
  stagesDone: readonly StageName[];
  stage: StageName;
  step: number;
  totalSteps: number;
  shardsDone?: number;
  shardCount?: number;
  /** The run's stages (runStages); default: a run without refinement. */
  stages?: readonly StageName[];
  /** The profile's training steps per stage (ssl, tpl, refine): the ETA's cost model; without them, the stage weights. */
  plannedSteps?: Partial<Record<StageName, number>>;
  /** The overall fraction shares the run by the cost model (needs plannedSteps) instead of the stage weights. */
  fractionByCost?: boolean;
}

const weight = (s: StageName): number => STAGE_WEIGHTS[s] ?? 0;
const stagesOf = (p: StageState): readonly StageName[] => p.stages ?? runStages(false);
const clamp01 = (v: number): number => (Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);
const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/** 0–1 of the running stage: shards for the pseudo-label fan-out (parallel shards interleave their steps), else steps. */
export function stageFraction(p: StageState): number {
  if (p.stagesDone.includes(p.stage)) return 1;
  if (p.stage === 'pseudo-labels' && p.shardCount) return clamp01((p.shardsDone ?? 0) / p.shardCount);
  return p.totalSteps > 0 ? clamp01(p.step / p.totalSteps) : 0;
}

/** 0–1 over the whole pipeline, to 3 decimals: finished stages' shares plus the running stage's part of its share. */
export function overallFraction(p: StageState): number {
  const planned = p.fractionByCost ? p.plannedSteps : undefined;
  const share = planned ? (s: StageName): number => costUnits(s, planned) : weight;
  // Only the run's own stages weigh: a run recorded before refinement had a weight keeps its
  // fractions although it refines.
  const stages = stagesOf(p);
  const counted = (s: StageName): number => (stages.includes(s) ? share(s) : 0);
  const total = stages.reduce((sum, s) => sum + share(s), 0);
  if (!(total > 0)) return 0;
  const done = p.stagesDone.reduce((sum, s) => sum + counted(s), 0);
  const running = p.stagesDone.includes(p.stage) ? 0 : counted(p.stage) * stageFraction(p);
  return round3(clamp01((done + running) / total));
}

/** A step count at a time (workflow time, ms). */
export interface StepSample {
  step: number;
  atMs: number;
}

/** Steps per second between two samples of one stage; undefined until time and steps have advanced. */
export function stepsPerSecond(first: StepSample, last: StepSample): number | undefined {
  const dt = (last.atMs - first.atMs) / 1000;
  const ds = last.step - first.step;
  return dt > 0 && ds > 0 ? ds / dt : undefined;
}

/**
 * The cost model of the ETA and of the fraction, in units of one SSL training step, from a whole
 * fresh `cpu` run (2 vCPU AMD EPYC, README "Results"): SSL 0.44 s/step, TPL 301 s for 1500 steps
 * (0.46 units a step), refinement 98 s for 800 (0.28), pseudo-labels ≈ 11 s (25 units), evaluation 23 s (52); the
 * report ≈ 5 units (what a run's wall time left after its timed stages, 2026-12-02). The
 * `quick` profile has the same shapes; `paper`'s larger nets keep roughly the same ratios. The
 * stage weights above are shares of a run, not costs: they made a `cpu` run's ETA 1.8× too long
 * at the start of SSL (SSL is 87 % of that run, not 50 %), and put the bar at 51 % when SSL ended.
 * Checked on the whole `cpu` run of 2026-12-02 (`cpu-t125-s2022-1202b`, a slower AMD EPYC, SSL
 * 0.68 s/step): TPL 0.48 units a step, refinement 0.28, pseudo-labels 15, evaluation 65; SSL ended
 * at 86 % of the wall time, where this model puts the bar at 87 %.
 * Ingest and plan have no cost: a few seconds of a `cpu` run (the ingest's time grows with the
 * site's images, not with any step count), so the bar starts moving with SSL.
 */
export const STEP_COST: Readonly<Partial<Record<StageName, number>>> = { ssl: 1, tpl: 0.46, refine: 0.28 };
export const STAGE_COST: Readonly<Partial<Record<StageName, number>>> = { 'pseudo-labels': 25, evaluate: 52, report: 5 };

export interface Eta {
  /** Seconds left in the running stage at the measured step rate. */
  stageSeconds: number;
  /**
   * Seconds left in the run: the stage's remainder plus the later stages, each estimated from the
   * running stage's measured step time through the cost model (training stages by their planned
   * steps), or, without planned steps, as the running stage's duration scaled by the weights.
   */
  runSeconds: number;
}

/** ETA from the running stage's step rate; undefined without a rate or a step count. */
export function estimateEta(p: StageState, rate: number | undefined): Eta | undefined {
  if (rate === undefined || !(rate > 0) || p.totalSteps <= 0 || weight(p.stage) <= 0) return undefined;
  // Parallel shards report their own step counts in turn: no single rate to measure.
  if (p.stage === 'pseudo-labels' && (p.shardCount ?? 0) > 1) return undefined;
  const stageSeconds = Math.max(0, p.totalSteps - p.step) / rate;
  const stages = stagesOf(p);
  if (!stages.includes(p.stage)) return undefined;
  const later = stages.slice(stages.indexOf(p.stage) + 1).filter((s) => !p.stagesDone.includes(s));
  // Seconds per cost unit, measured on the running stage: a training step is STEP_COST units, a
  // whole fixed-cost stage (one pseudo-label shard) STAGE_COST units.
  const unitSeconds = STEP_COST[p.stage] !== undefined ? 1 / (rate * STEP_COST[p.stage]!)
    : STAGE_COST[p.stage] !== undefined ? p.totalSteps / rate / STAGE_COST[p.stage]! : undefined;
  const laterSeconds = p.plannedSteps && unitSeconds !== undefined
    ? later.reduce((sum, s) => sum + costUnits(s, p.plannedSteps!), 0) * unitSeconds
    : later.reduce((sum, s) => sum + weight(s), 0) * (p.totalSteps / rate / weight(p.stage));
  return { stageSeconds: Math.round(stageSeconds), runSeconds: Math.round(stageSeconds + laterSeconds) };
}

/** The training steps a profile plans per stage: the cost model's input. */
export function plannedStepsOf(profile: { ssl: { steps: number }; tpl: { steps: number }; refine?: { steps: number } }): Partial<Record<StageName, number>> {
  return { ssl: profile.ssl.steps, tpl: profile.tpl.steps, ...(profile.refine ? { refine: profile.refine.steps } : {}) };
}

/** A stage's cost in SSL-step units: planned steps × step cost for training, else its fixed cost (0 when it has none). */
function costUnits(s: StageName, plannedSteps: Partial<Record<StageName, number>>): number {
  const steps = plannedSteps[s];
  return STEP_COST[s] !== undefined && steps !== undefined ? steps * STEP_COST[s]! : STAGE_COST[s] ?? 0;
}
