/**
 * Wire definitions of the pipeline workflow: query and signal names, stage weights and the
 * search-attribute keys. Imported by the workflow (by value) and by clients (CLI, dashboard).
 * Names are wire API: renaming breaks in-flight runs.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { PipelineProgress, StageName, StageProgress } from '../contracts/types';

export { PIPELINE_WORKFLOW_TYPE } from '../infra/config/names';

/** Current stage, step/total and loss of the running stage, overall fraction. */
export const progressQuery = defineQuery<PipelineProgress>('progress');

/** Sent (best effort, throttled) by long activities so the `progress` query sees steps and loss. */
export const stageProgressSignal = defineSignal<[StageProgress]>('stageProgress');

/** Share of the pipeline's wall time per stage, for the overall fraction (rough, smoke-to-paper). */
export const STAGE_WEIGHTS: Readonly<Partial<Record<StageName, number>>> = {
  ingest: 0.05,
  plan: 0.01,
  ssl: 0.5,
  'pseudo-labels': 0.1,
  tpl: 0.27,
  evaluate: 0.05,
  report: 0.02,
  // 800 refinement steps took 114 s beside quick's 292 s of SSL (cc2d-quick-t125-s7-r2: 0.2 by
  // SSL's 0.5) and 144 s beside cpu's 987 s (cc2d-cpu-levers-s2022: 0.07): 0.1 between the two.
  // Counted only in runs that refine (runStages), so the others read as before.
  refine: 0.1,
  // promote: no weight.
};

export const STAGE_ORDER: readonly StageName[] = ['ingest', 'plan', 'ssl', 'pseudo-labels', 'tpl', 'refine', 'evaluate', 'report', 'promote'];

/** The stages a run goes through, in order: 'refine' only when its profile refines. */
export function runStages(refines: boolean): readonly StageName[] {
  return STAGE_ORDER.filter((s) => refines || s !== 'refine');
}
