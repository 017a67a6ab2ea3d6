/**
 * Workflow-side bookkeeping of a pipeline run: the current stage, the `progress` query state,
 * stage timings and the typed search attributes upserted as stages advance. Deterministic:
 * time comes from the workflow clock, nothing else is read.
 */
import { upsertSearchAttributes } from '@temporalio/workflow';
import type { PipelineProgress, StageName, StageProgress, StageTiming } from '../contracts/types';
import { SEARCH_ATTRIBUTES as SA } from '../infra/config/names';
import { estimateEta, overallFraction, stageFraction, stepsPerSecond, type StageState, type StepSample } from './progress';

type Status = PipelineProgress['status'];

export class StageTracker {
  private readonly state: PipelineProgress;
  private readonly timings: StageTiming[] = [];
  private stageStartedAt = '';
  /** First progress report of the running stage (or of its latest resume): the step rate's origin. */
  private rateOrigin?: StepSample;

  /**
   * @param stages the run's stages (runStages), which share the overall fraction
   * @param plannedSteps the profile's training steps per stage, for the ETA (query state only)
   * @param fractionByCost share the overall fraction by the cost model instead of the stage
   *   weights; the fraction is upserted at each stage's end, so the caller decides with patched()
   */
  constructor(
    runId: string,
    private readonly stages?: readonly StageName[],
    private readonly plannedSteps?: Partial<Record<StageName, number>>,
    private readonly fractionByCost = false,
  ) {
    this.state = { runId, status: 'running', stage: 'queued', step: 0, totalSteps: 0, fraction: 0, stagesDone: [] };
  }

  /** Marks the run as started by this workflow (idempotent with the client's initial attributes). */
  start(site: string, profile: string, gpuQueue: string): void {
    this.state.gpuQueue = gpuQueue;
    upsertSearchAttributes([
      { key: SA.runId, value: this.state.runId },
      { key: SA.site, value: site },
      { key: SA.profile, value: profile },
      { key: SA.status, value: 'running' },
      { key: SA.progress, value: 0 },
    ]);
  }

  progress(): PipelineProgress {
    return { ...this.state, stagesDone: [...this.state.stagesDone] };
  }

  stageTimings(): StageTiming[] {
    return [...this.timings];
  }

  /** Runs one stage: upserts the stage, records its timing, marks it done. */
  async stage<T>(name: StageName, body: () => Promise<T>): Promise<T> {
    this.stageStartedAt = new Date().toISOString();
    Object.assign(this.state, { stage: name, step: 0, totalSteps: 0, loss: undefined });
    this.clearEstimate();
    upsertSearchAttributes([{ key: SA.stage, value: name }]);
    const result = await body();
    this.timings.push({ stage: name, startedAt: this.stageStartedAt, endedAt: new Date().toISOString() });
    this.state.stagesDone.push(name);
    this.clearEstimate();
    this.state.fraction = overallFraction(this.withStages());
    upsertSearchAttributes([{ key: SA.progress, value: this.state.fraction }]);
    return result;
  }

  /**
   * Progress sent by an activity; stale updates from an earlier stage are ignored. Moves the
   * overall fraction within the stage and measures the step rate for the ETA. Only query state
   * changes here (no command), so histories recorded before it replay unchanged.
   */
  onStageProgress(p: StageProgress): void {
    if (p.stage !== this.state.stage) return;
    const now: StepSample = { step: p.step, atMs: Date.now() };
    // A retry resumes from a checkpoint, behind the last report: measure from there.
    if (this.rateOrigin === undefined || p.step < this.state.step) this.rateOrigin = now;
    this.state.step = p.step;
    this.state.totalSteps = p.totalSteps;
    this.state.loss = p.loss;
    this.updateFraction();
    const rate = stepsPerSecond(this.rateOrigin, now);
    const eta = estimateEta(this.withStages(), rate);
    if (rate !== undefined && eta) {
      Object.assign(this.state, {
        stepsPerSecond: Math.round(rate * 1000) / 1000, stageEtaSeconds: eta.stageSeconds, etaSeconds: eta.runSeconds, measuredAt: new Date(now.atMs).toISOString(),
      });
    }
  }

  setDatasetVersion(version: string): void {
    this.state.datasetVersion = version;
    upsertSearchAttributes([{ key: SA.datasetVersion, value: version }]);
  }

  setShards(done: number, total: number): void {
    this.state.shardsDone = done;
    this.state.shardCount = total;
    this.updateFraction();
  }

  /** Never backwards within a run (a retried stage resumes behind its last report). */
  private updateFraction(): void {
    this.state.stageFraction = stageFraction(this.state);
    this.state.fraction = Math.max(this.state.fraction, overallFraction(this.withStages()));
  }

  private withStages(): PipelineProgress & Pick<StageState, 'stages' | 'plannedSteps' | 'fractionByCost'> {
    return {
      ...this.state,
      ...(this.stages ? { stages: this.stages } : {}),
      ...(this.plannedSteps ? { plannedSteps: this.plannedSteps } : {}),
      fractionByCost: this.fractionByCost,
    };
  }

  private clearEstimate(): void {
    this.rateOrigin = undefined;
    for (const k of ['stageFraction', 'stepsPerSecond', 'stageEtaSeconds', 'etaSeconds', 'measuredAt'] as const) delete this.state[k];
  }

  finish(status: Exclude<Status, 'running'>, mreMm?: number): void {
    this.state.status = status;
    if (status === 'completed') {
      Object.assign(this.state, { stage: 'done', fraction: 1 });
      this.state.mreMm = mreMm;
    }
    upsertSearchAttributes([
      { key: SA.status, value: status },
      ...(status === 'completed' ? [{ key: SA.stage, value: 'done' }, { key: SA.progress, value: 1 }] : []),
      ...(mreMm !== undefined && Number.isFinite(mreMm) ? [{ key: SA.mre, value: mreMm }] : []),
    ]);
  }
}
