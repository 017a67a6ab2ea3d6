/**
 * `ingestDataset` (CPU queue): a thin adapter over the importers (infra/dataset/ingest for the ISBI
 * layout, infra/dataset/site/ingest-site for a site folder). Validates and publishes
 * a content-addressed dataset version (or reuses it), heartbeating progress while it works.
 *
 * - Outside a Temporal activity (tests, scripts) it runs without heartbeats.
 * - DatasetInvalidError / InvalidDatasetKeyError / InvalidConfigError → non-retryable
 *   ApplicationFailure of their type; the message is capped, the full problem list (up to
 *   MAX_PROBLEMS_IN_FAILURE entries) rides in the failure details.
 * - Retries are cheap: an already published version returns at once with `reused: true`, and a
 *   half-written one (crash before its manifest) is completed by the next attempt.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { DatasetInvalidError, InvalidConfigError, UserError } from '../infra/errors';
import { detectDatasetLayout } from '../infra/dataset/detect-layout';
import { ingestDataset as runIngest } from '../infra/dataset/ingest';
import { ingestSite } from '../infra/dataset/site/ingest-site';
import type { IngestProgress } from '../infra/dataset/types';
import type { ObjectStore } from '../infra/storage/object-store';
import { PROFILE_INPUT_SIZES } from '../ml/profiles';
import { ProgressReporter } from './progress';
import type { IngestInput, IngestOutput } from '../contracts/types';

export const MAX_PROBLEMS_IN_FAILURE = 200;
const MAX_PROBLEMS_IN_MESSAGE = 30;

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Maps ingestion errors to the activity failure taxonomy (user errors are non-retryable). */
export function toIngestFailure(err: unknown): unknown {
  if (err instanceof DatasetInvalidError) {
    const shown = err.problems.slice(0, MAX_PROBLEMS_IN_MESSAGE);
    const more = err.problems.length - shown.length;
    const message = `dataset rejected (${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}):\n  - ${shown.join('\n  - ')}${more > 0 ? `\n  … and ${more} more` : ''}`;
    return ApplicationFailure.nonRetryable(message, err.type, { problems: err.problems.slice(0, MAX_PROBLEMS_IN_FAILURE), total: err.problems.length });
  }
  if (err instanceof UserError) return ApplicationFailure.nonRetryable(err.message, err.type);
  return err;
}

/** Heartbeat step over the whole ingest: hashing is the first half, decoding/resizing the second. */
function toStep(p: IngestProgress): { step: number; totalSteps: number } {
  const n = Math.max(p.total, 1);
  switch (p.phase) {
    case 'scan':
      return { step: 0, totalSteps: 2 * n + 1 };
    case 'hash':
      return { step: p.done, totalSteps: 2 * n + 1 };
    case 'process':
      return { step: n + p.done, totalSteps: 2 * n + 1 };
    case 'publish':
      return { step: 2 * n, totalSteps: 2 * n + 1 };
    case 'done':
      return { step: 2 * n + 1, totalSteps: 2 * n + 1 };
  }
}

export function createIngestActivities(deps: { store: ObjectStore }) {
  return {
    async ingestDataset(input: IngestInput): Promise<IngestOutput> {
      const ctx = currentContext();
      const reporter = ctx ? new ProgressReporter(ctx, { stage: 'ingest', step: 0, totalSteps: 1 }) : undefined;
      let lastPhase: IngestProgress['phase'] | undefined;
      try {
        const onProgress = (p: IngestProgress): void => {
          if (!reporter) return;
          reporter.update(toStep(p), p.phase !== lastPhase);
          lastPhase = p.phase;
        };
        const common = {
          sizes: input.sizes,
          ...(input.site !== undefined ? { site: input.site } : {}),
          ...(ctx ? { signal: ctx.cancellationSignal } : {}),
          onProgress,
        };
        const layout = input.layout ?? (await detectDatasetLayout(input.datasetDir)) ?? 'isbi';
        if (layout === 'site' && input.templateId === undefined) throw new InvalidConfigError('ingest: a site folder needs the template id (the image whose landmarks define the set)');
        const result =
          layout === 'site'
            ? await ingestSite(deps.store, {
                ...common,
                dir: input.datasetDir,
                templateId: input.templateId as string,
                // `cc2d site add` published the folder at every profile's size: reuse that version.
                reusableSizes: PROFILE_INPUT_SIZES,
                ...(input.pixelSpacingMm !== undefined ? { spacingMm: input.pixelSpacingMm } : {}),
              })
            : await runIngest(deps.store, {
                ...common,
                datasetDir: input.datasetDir,
                ...(input.pixelSpacingMm !== undefined ? { pixelSpacingMm: input.pixelSpacingMm } : {}),
              });
        ctx?.log.info('dataset ingested', {
          layout,
          datasetVersion: result.datasetVersion,
          reused: result.reused,
          images: result.counts.images,
          sizes: result.sizes,
          warnings: result.warnings.length,
          durationMs: result.durationMs,
        });
        return { datasetVersion: result.datasetVersion, counts: { ...result.counts }, reused: result.reused };
      } catch (err) {
        throw toIngestFailure(err);
      }
    },
  };
}
