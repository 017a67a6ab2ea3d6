/**
 * `promoteRun` (CPU): the promotion gate after the report. Decides whether the published run
 * becomes its site's champion (infra/models: compared with the current champion on the same
 * evaluation images, or against the site's `minMre` when there is none) and records the decision
 * next to the run's report, `runs/<run>/report/promotion.json`. Idempotent: a retry after the
 * swap finds the run already champion and records the same outcome.
 */
import { Context } from '@temporalio/activity';
import type { PromoteRunInput, PromotionDecision } from '../contracts/types';
import { PromotionDocumentSchema } from '../contracts/documents';
import { InvalidConfigError } from '../infra/errors';
import { promoteIfBetter, promotionKey } from '../infra/models/champion';
import { isVersionedStore } from '../infra/storage/object-store';
import type { ActivityDeps } from './deps';
import { withStorageRetry } from './failures';

export function createPromoteRun(deps: ActivityDeps) {
  return async function promoteRun(input: PromoteRunInput): Promise<PromotionDecision> {
    const { store } = deps;
    if (!isVersionedStore(store)) throw new InvalidConfigError('the promotion gate needs a store with compare-and-swap (S3 If-Match)');
    const result = await withStorageRetry('promotion gate', () =>
      promoteIfBetter(store, { runId: input.runId, ...(input.minMre !== undefined ? { minMre: input.minMre } : {}) }),
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
    return decision;
  };
}
