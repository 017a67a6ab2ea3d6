/**
 * The run's overall progress and ETA, as pure functions of the progress state (no clock, no
 * Temporal): the tracker calls them with workflow time, tests call them directly.
 *
 * The overall fraction counts the finished stages by their weight plus the running stage's
 * weight times its own fraction (steps done / total, or shards done for the pseudo-label
 * fan-out), so a long stage moves the bar instead of holding it until its end.
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

/** 0–1 over the whole pipeline, to 3 decimals: finished stages' weights plus the running stage's share. */
export function overallFraction(p: StageState): number {
  // Only the run's own stages weigh: a run recorded before refinement had a weight keeps its
  // fractions although it refines.
  const stages = stagesOf(p);
  const counted = (s: StageName): number => (stages.includes(s) ? weight(s) : 0);
  const total = stages.reduce((sum, s) => sum + weight(s), 0);
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
 * The ETA's cost model, in units of one SSL training step, from a whole fresh `cpu` run (2 vCPU AMD
 * EPYC, README "Results"): SSL 0.44 s/step, TPL 301 s for 1500 steps (0.46 units a step),
 * refinement 98 s for 800 (0.28), pseudo-labels ≈ 11 s (25 units), evaluation 23 s (52); the
 * report ≈ 5 units (what a run's wall time left after its timed stages, 2026-12-02). The
 * `quick` profile has the same shapes; `paper`'s larger nets keep roughly the same ratios. The
 * stage weights above are shares of a run, not costs: they made a `cpu` run's ETA 1.8× too long
 * at the start of SSL (SSL is 87 % of that run, not 50 %).
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

/** A later stage's cost in SSL-step units: planned steps × step cost for training, else its fixed cost. */
function costUnits(s: StageName, plannedSteps: Partial<Record<StageName, number>>): number {
  const steps = plannedSteps[s];
  return STEP_COST[s] !== undefined && steps !== undefined ? steps * STEP_COST[s]! : STAGE_COST[s] ?? 0;
}
