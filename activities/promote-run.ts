/**
 * `promoteRun` (CPU): the promotion gate on a published run, for runs whose report stage did not
 * decide it (executions recorded before the report stage ran the gate). Decides whether the run
 * becomes its site's champion (infra/models: compared with the current champion on the same
 * evaluation images, or against the site's `minMre` when there is none) and records the decision
 * next to the run's report, `runs/<run>/report/promotion.json`. Idempotent: a retry after the
 * swap finds the run already champion and records the same outcome.
 */
import { Context } from '@temporalio/activity';
import type { PromoteRunInput, PromotionDecision } from '../contracts/types';
import { PromotionDocumentSchema, type PromotionDocument } from '../contracts/documents';
import { InvalidConfigError } from '../infra/errors';
import { promoteIfBetter, promotionKey, type PublishedRun } from '../infra/models/champion';
import { NotFoundError, isVersionedStore, type ObjectStore } from '../infra/storage/object-store';
import { parseJson } from '../infra/storage/read-json';
import type { ActivityDeps } from './deps';
import { withStorageRetry } from './failures';

/**
 * Runs the gate (on the published run, or on `candidate` just before it is published) and stores
 * the decision as `promotion.json`; `decidedAt` is the decision's time, kept by `recordedPromotion`.
 */
export async function decidePromotion(deps: ActivityDeps, input: PromoteRunInput, candidate?: PublishedRun): Promise<PromotionDocument> {
  const { store } = deps;
  if (!isVersionedStore(store)) throw new InvalidConfigError('the promotion gate needs a store with compare-and-swap (S3 If-Match)');
  const result = await withStorageRetry('promotion gate', () =>
    promoteIfBetter(store, { runId: input.runId, ...(candidate ? { candidate } : {}), ...(input.minMre !== undefined ? { minMre: input.minMre } : {}) }),
  );
  const decision: PromotionDecision = {
    site: result.site, outcome: result.outcome, reason: result.reason,
    ...(result.championBefore !== undefined ? { championBefore: result.championBefore } : {}),
    ...(result.candidateMre !== undefined && Number.isFinite(result.candidateMre) ? { candidateMre: result.candidateMre } : {}),
    ...(result.championMre !== undefined && Number.isFinite(result.championMre) ? { championMre: result.championMre } : {}),
    ...(result.comparedImages !== undefined ? { comparedImages: result.comparedImages } : {}),
  };
  const doc = PromotionDocumentSchema.parse({ runId: input.runId, decidedAt: new Date().toISOString(), ...decision });
  const key = promotionKey(input.runId);
  await withStorageRetry(`put ${key}`, () => store.put(key, new TextEncoder().encode(JSON.stringify(doc, null, 2)), { contentType: 'application/json' }));
  Context.current().log.info('promotion gate', { runId: input.runId, site: decision.site, outcome: decision.outcome, reason: decision.reason });
  return doc;
}

/** The decision already recorded for a run (a retried report stage decides once), or undefined. */
export async function recordedPromotion(store: ObjectStore, runId: string): Promise<PromotionDocument | undefined> {
  const key = promotionKey(runId);
  try {
    return parseJson(key, await withStorageRetry(`get ${key}`, () => store.get(key)), PromotionDocumentSchema);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** The wire form of a stored decision (no run id or time). */
export function promotionDecisionOf(doc: PromotionDocument): PromotionDecision {
  return {
    site: doc.site, outcome: doc.outcome, reason: doc.reason,
    ...(doc.championBefore !== undefined ? { championBefore: doc.championBefore } : {}),
    ...(doc.candidateMre !== undefined ? { candidateMre: doc.candidateMre } : {}),
    ...(doc.championMre !== undefined ? { championMre: doc.championMre } : {}),
    ...(doc.comparedImages !== undefined ? { comparedImages: doc.comparedImages } : {}),
  };
}

export function createPromoteRun(deps: ActivityDeps) {
  return async function promoteRun(input: PromoteRunInput): Promise<PromotionDecision> {
    return promotionDecisionOf(await decidePromotion(deps, input));
  };
}
