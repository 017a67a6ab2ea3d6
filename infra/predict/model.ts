/**
 * The model a prediction request uses: a published run's TPL weights, its profile (input size,
 * network width, disk radius) and its landmark names, read from the run's lineage manifest and
 * JSON report. A site's champion (`sites/<site>/champion.json`, `{ runId }`) names a run too.
 */
import { z } from 'zod';
import type { ArtifactRef } from '../../contracts/types';
import { ProfileSchema, type Profile } from '../../ml/profiles';
import { DEFAULT_FLAG_BELOW } from '../config/run-config';
import { UserError } from '../errors';
import { runPrefix } from '../storage/keys';
import { readRunManifest } from '../storage/manifest';
import type { ObjectStore } from '../storage/object-store';
import { readJson } from '../storage/read-json';

export interface RunModel {
  runId: string;
  site: string;
  tplWeights: ArtifactRef;
  /** The shape prior's model, when the run's profile has the shape prior on. */
  shapeModel?: ArtifactRef;
  profile: Profile;
  landmarkNames: string[];
  datasetVersion: string;
  codeVersion: string;
}

/** The site's champion (infra/models/champion.ts): what `predict --site S` uses. */
export { championRunId } from '../models/champion';

const LineageMetaSchema = z.looseObject({
  site: z.string().min(1),
  datasetVersion: z.string().min(1),
  codeVersion: z.string(),
  reportKey: z.string().min(1),
  artifacts: z.looseObject({ tplWeights: z.string().min(1), shapeModel: z.string().min(1).optional() }),
});

const ReportSchema = z.looseObject({
  lineage: z.looseObject({
    config: z.looseObject({
      profile: ProfileSchema,
      // Runs from before the field have none: the default applies.
      config: z.looseObject({ predict: z.looseObject({ flagBelow: z.number().min(0).max(1) }).optional() }).optional(),
    }),
  }),
  dataset: z.looseObject({ landmarkNames: z.array(z.string()).min(1) }),
});

/** The model of a completed (published) run, and the flag threshold of its run config (the default of its predictions). */
export async function loadRunModel(store: ObjectStore, runId: string): Promise<{ model: RunModel; flagBelow: number }> {
  const prefix = runPrefix(runId);
  const manifest = await readRunManifest(store, runId);
  const meta = LineageMetaSchema.safeParse(manifest.meta);
  if (!meta.success) throw new UserError(`run ${runId}: its lineage manifest does not name a TPL model and report`);
  const weightsEntry = manifest.files.find((f) => f.key === meta.data.artifacts.tplWeights);
  if (!weightsEntry) throw new UserError(`run ${runId}: its manifest does not list ${meta.data.artifacts.tplWeights}`);
  const shapeEntry = manifest.files.find((f) => f.key === meta.data.artifacts.shapeModel);
  if (meta.data.artifacts.shapeModel !== undefined && !shapeEntry) throw new UserError(`run ${runId}: its manifest does not list ${meta.data.artifacts.shapeModel}`);
  const reportEntry = manifest.files.find((f) => `${prefix}/${f.key}` === meta.data.reportKey);
  const report = await readJson(store, { key: meta.data.reportKey, ...(reportEntry ? { sha256: reportEntry.sha256 } : {}) }, ReportSchema);
  const model: RunModel = {
    runId,
    site: meta.data.site,
    tplWeights: { key: `${prefix}/${weightsEntry.key}`, sha256: weightsEntry.sha256, size: weightsEntry.size },
    ...(shapeEntry ? { shapeModel: { key: `${prefix}/${shapeEntry.key}`, sha256: shapeEntry.sha256, size: shapeEntry.size } } : {}),
    profile: report.lineage.config.profile,
    landmarkNames: report.dataset.landmarkNames,
    datasetVersion: meta.data.datasetVersion,
    codeVersion: meta.data.codeVersion,
  };
  return { model, flagBelow: report.lineage.config.config?.predict?.flagBelow ?? DEFAULT_FLAG_BELOW };
}
