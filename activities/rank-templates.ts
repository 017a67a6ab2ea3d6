/**
 * `rankTemplates` (CPU queue): ranks a site's images as the one image to label, from the SSL
 * embeddings alone (ml/ssl/template-ranking.ts; no label is read). Loads the SSL weights and
 * the candidates' working images, embeds each once, computes every score, ranks by
 * SUGGEST_SCORE and stores the ranking content-addressed under the site's keys
 * (TemplateRankingSchema); returns its key and the first entries.
 */
import { Context } from '@temporalio/activity';
import { TEMPLATE_RANKING_FORMAT, TemplateRankingSchema, type TemplateRanking } from '../contracts/documents';
import type { RankedTemplateEntry, RankTemplatesInput, RankTemplatesOutput, StageProgress } from '../contracts/types';
import { DatasetReader } from '../infra/dataset/reader';
import { sha256Hex } from '../infra/storage/hash';
import { siteKeys } from '../infra/storage/keys';
import { embedIntoBank, HIGHER_IS_BETTER, rankByScore, SslMatcher, SUGGEST_SCORE, TEMPLATE_SCORE_METHODS, templateScores, TEMPLATE_SCORES } from '../ml/ssl';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';
import { ProgressReporter } from './progress';

/** Entries returned to the workflow (the stored document holds all). */
export const RANKING_TOP = 20;

export function createRankTemplates(deps: ActivityDeps) {
  return async function rankTemplates(input: RankTemplatesInput): Promise<RankTemplatesOutput> {
    const started = Date.now();
    const { profile, candidateIds: ids } = input;
    const ctx = Context.current();
    const store = retryingStore(deps.store);
    const reader = new DatasetReader(store, input.datasetVersion);
    const weights = await store.get(input.sslWeights.key, input.sslWeights.sha256);
    // Embedding each image, then one step per candidate of the cycle score.
    const progress = new ProgressReporter<StageProgress>(ctx, { stage: 'rank', step: 0, totalSteps: 2 * ids.length }, deps.progress);
    progress.update({}, true);
    const matcher = SslMatcher.create(profile, weights);
    let bank;
    try {
      bank = await embedIntoBank(matcher, ids.length, async (a, b) => {
        progress.throwIfCancelled();
        return reader.images(profile.inputSize, ids.slice(a, b));
      }, (done) => progress.update({ step: done }));
    } finally {
      matcher.dispose();
    }
    let scores;
    try {
      scores = await templateScores(bank, {
        beforeCandidate: () => progress.throwIfCancelled(),
        onProgress: (done) => progress.update({ step: ids.length + done }),
        onMatched: () => progress.update({}),
      });
    } finally {
      bank.dispose();
    }
    const entries: RankedTemplateEntry[] = rankByScore(scores[SUGGEST_SCORE], HIGHER_IS_BETTER[SUGGEST_SCORE]).map((r) => ({
      id: ids[r.index]!, rank: r.rank, score: r.score,
      scores: Object.fromEntries(TEMPLATE_SCORES.map((name) => [name, scores[name][r.index]!])),
    }));
    const backend = deps.backend();
    const doc: TemplateRanking = TemplateRankingSchema.parse({
      format: TEMPLATE_RANKING_FORMAT, site: input.site, datasetVersion: input.datasetVersion, profile: profile.name, inputSize: profile.inputSize,
      sslWeights: { key: input.sslWeights.key, sha256: input.sslWeights.sha256 }, sslSource: input.sslSource,
      scoreName: SUGGEST_SCORE, method: { ...TEMPLATE_SCORE_METHODS }, entries, codeVersion: deps.codeVersion, backend, createdAt: new Date().toISOString(),
    });
    const bytes = new TextEncoder().encode(`${JSON.stringify(doc)}\n`);
    const sha256 = sha256Hex(bytes);
    // Content-addressed: a retried attempt with equal bytes writes the same key.
    const ranking = await store.put(siteKeys.templateRanking(input.site, sha256), bytes, { contentType: 'application/json' });
    progress.update({ step: 2 * ids.length }, true);
    return { ranking, scoreName: SUGGEST_SCORE, top: entries.slice(0, RANKING_TOP), images: ids.length, backend, durationMs: Date.now() - started };
  };
}
