/**
 * The ETA of a running run as shown by `cc2d status`, `cc2d run` and the dashboard: the
 * workflow's estimate counts from its measurement time, so the time since is subtracted here.
 */
import type { PipelineProgress } from '../../contracts/types';

/** Seconds left in the run now, or undefined when the workflow has no estimate (yet). */
export function remainingSeconds(p: Pick<PipelineProgress, 'etaSeconds' | 'measuredAt'>, nowMs: number): number | undefined {
  if (p.etaSeconds === undefined || p.measuredAt === undefined) return undefined;
  const at = Date.parse(p.measuredAt);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, Math.round(p.etaSeconds - Math.max(0, nowMs - at) / 1000));
}

/** "45 s", "12 min 05 s", "1 h 02 min". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** "ETA 12 min 05 s" (with the step rate), or '' without an estimate. */
export function etaText(p: Pick<PipelineProgress, 'etaSeconds' | 'measuredAt' | 'stepsPerSecond'>, nowMs: number): string {
  const left = remainingSeconds(p, nowMs);
  if (left === undefined) return '';
  const rate = p.stepsPerSecond !== undefined ? ` (${p.stepsPerSecond >= 1 ? p.stepsPerSecond.toFixed(1) : (1 / p.stepsPerSecond).toFixed(2)} ${p.stepsPerSecond >= 1 ? 'steps/s' : 's/step'})` : '';
  return `ETA ${formatDuration(left)}${rate}`;
}
