/**
 * The promotion gate: whether a finished run becomes its site's champion. Pure (numbers in, a
 * decision out), so every rule is unit-tested without storage or Temporal.
 *
 * - A run without metrics is never promoted automatically (`skipped`).
 * - With a champion: the candidate must have a strictly lower MRE than the champion on the SAME
 *   evaluation images (protocol A, the image ids both runs scored, in the same unit); runs that
 *   share no scored image or differ in unit or landmark count are not comparable (`kept`).
 * - Without a champion: promoted, unless the site's `minMre` is set and not met.
 */
import type { ErrorUnit } from '../../ml/metrics';

export const PROMOTION_OUTCOMES = ['promoted', 'kept', 'skipped'] as const;
export type PromotionOutcome = (typeof PROMOTION_OUTCOMES)[number];

/** Protocol-A radial errors of one run, per scored evaluation image id. */
export interface ScoredRun {
  runId: string;
  unit: ErrorUnit;
  errorsById: ReadonlyMap<string, readonly number[]>;
}

export interface GateInput {
  /** undefined when the run has no metrics (nothing was scored). */
  candidate: ScoredRun | undefined;
  champion?: ScoredRun;
  /** The site's threshold for a first champion, in the candidate's unit. */
  minMre?: number;
}

export interface GateDecision {
  outcome: PromotionOutcome;
  reason: string;
  /** MRE of the candidate (and of the champion) on the compared images. */
  candidateMre?: number;
  championMre?: number;
  comparedImages?: number;
}

function meanOf(runs: ReadonlyMap<string, readonly number[]>, ids: readonly string[]): number {
  let sum = 0;
  let n = 0;
  for (const id of ids) {
    for (const e of runs.get(id)!) {
      sum += e;
      n++;
    }
  }
  return n === 0 ? Number.NaN : sum / n;
}

const fmt = (v: number, unit: ErrorUnit): string => `${v.toFixed(3)} ${unit}`;

export function decidePromotion({ candidate, champion, minMre }: GateInput): GateDecision {
  if (!candidate || candidate.errorsById.size === 0) {
    return { outcome: 'skipped', reason: 'the run has no metrics (no labelled evaluation image): never promoted automatically' };
  }
  const { unit } = candidate;
  if (!champion) {
    const ids = [...candidate.errorsById.keys()];
    const mre = meanOf(candidate.errorsById, ids);
    if (!Number.isFinite(mre)) return { outcome: 'kept', reason: 'the run\'s MRE is not a finite number' };
    const base = { candidateMre: mre, comparedImages: ids.length };
    if (minMre !== undefined && !(mre <= minMre)) {
      return { outcome: 'kept', reason: `no champion yet, and MRE ${fmt(mre, unit)} does not meet the site's minimum ${fmt(minMre, unit)}`, ...base };
    }
    const why = minMre !== undefined ? `MRE ${fmt(mre, unit)} meets the site's minimum ${fmt(minMre, unit)}` : `MRE ${fmt(mre, unit)}, no minimum set`;
    return { outcome: 'promoted', reason: `first champion of the site: ${why}`, ...base };
  }
  if (champion.unit !== unit) {
    return { outcome: 'kept', reason: `not comparable with champion ${champion.runId}: its metrics are in ${champion.unit}, the run's in ${unit}` };
  }
  const common = [...candidate.errorsById.keys()].filter((id) => champion.errorsById.has(id)).sort();
  if (common.length === 0) {
    return { outcome: 'kept', reason: `not comparable with champion ${champion.runId}: no evaluation image scored by both` };
  }
  const mismatched = common.find((id) => candidate.errorsById.get(id)!.length !== champion.errorsById.get(id)!.length);
  if (mismatched !== undefined) {
    return { outcome: 'kept', reason: `not comparable with champion ${champion.runId}: image ${mismatched} has a different landmark count` };
  }
  const candidateMre = meanOf(candidate.errorsById, common);
  const championMre = meanOf(champion.errorsById, common);
  const numbers = { candidateMre, championMre, comparedImages: common.length };
  const on = `on the same ${common.length} evaluation image(s), protocol A`;
  if (Number.isFinite(candidateMre) && (candidateMre < championMre || !Number.isFinite(championMre))) {
    return { outcome: 'promoted', reason: `beats champion ${champion.runId} ${on}: MRE ${fmt(candidateMre, unit)} < ${fmt(championMre, unit)}`, ...numbers };
  }
  return { outcome: 'kept', reason: `does not beat champion ${champion.runId} ${on}: MRE ${fmt(candidateMre, unit)} ≥ ${fmt(championMre, unit)}`, ...numbers };
}
