/**
 * Progress of a long activity: every update is a heartbeat (details = what a retry resumes
 * from, throttled by the SDK), and, at most every few seconds and about `maxSignals` times per
 * activity, a best-effort `stageProgress` signal to the workflow so its `progress` query shows
 * step, total and loss.
 */
import { CancelledFailure, type Context } from '@temporalio/activity';
import type { StageProgress } from '../contracts/types';
import { rememberHeartbeat } from './failures';
import { stageProgressSignal } from '../workflows/definitions';

export interface ProgressOptions {
  /** Minimum time between progress signals to the workflow. */
  signalEveryMs: number;
  /**
   * At most about this many step-driven signals per activity (each signal costs ~4 history
   * events), so a 60k-step paper run stays far below the 10k-event history budget.
   */
  maxSignals: number;
}

export const DEFAULT_PROGRESS_OPTIONS: ProgressOptions = { signalEveryMs: 3_000, maxSignals: 100 };

export class ProgressReporter<D extends StageProgress = StageProgress> {
  private lastSignalAt = 0;
  private lastSignalStep = Number.NEGATIVE_INFINITY;
  private details: D;

  constructor(private readonly ctx: Context, initial: D, private readonly options: ProgressOptions = DEFAULT_PROGRESS_OPTIONS) {
    this.details = initial;
  }

  get current(): D {
    return this.details;
  }

  /** Heartbeats `update` merged into the current details; signals the workflow when due. */
  update(update: Partial<D>, force = false): void {
    this.details = { ...this.details, ...update };
    rememberHeartbeat(this.ctx, this.details);
    this.ctx.heartbeat(this.details);
    const now = Date.now();
    const stride = Math.max(1, Math.ceil(this.details.totalSteps / this.options.maxSignals));
    if (force || (now - this.lastSignalAt >= this.options.signalEveryMs && this.details.step - this.lastSignalStep >= stride)) {
      this.lastSignalAt = now;
      this.lastSignalStep = this.details.step;
      this.signal();
    }
  }

  private signal(): void {
    const { stage, step, totalSteps, loss } = this.details;
    const p: StageProgress = { stage, step, totalSteps, ...(loss !== undefined && Number.isFinite(loss) ? { loss } : {}) };
    let client;
    try {
      client = this.ctx.client;
    } catch {
      return; // MockActivityEnvironment without a client
    }
    const wf = this.ctx.info.workflowExecution;
    if (!wf) return;
    void client.workflow
      .getHandle(wf.workflowId, wf.runId)
      .signal(stageProgressSignal, p)
      .catch((err: unknown) => this.ctx.log.debug('progress signal not delivered', { error: String(err) }));
  }

  /** Throws CancelledFailure once the workflow asked to cancel (delivered with a heartbeat). */
  throwIfCancelled(): void {
    throwIfCancelled(this.ctx);
  }
}

/** Throws the activity's cancellation (a CancelledFailure) once Temporal has delivered it. */
export function throwIfCancelled(ctx: Context): void {
  const signal = ctx.cancellationSignal;
  if (!signal.aborted) return;
  const reason: unknown = signal.reason;
  throw reason instanceof CancelledFailure ? reason : new CancelledFailure(String((reason as Error | undefined)?.message ?? reason));
}
