/**
 * The model a prediction request uses: a published run's TPL weights (and its shape model and
 * refinement weights when it has them), its profile (input size,
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
  /** The refinement stage's weights, when the run's profile has the refinement stage. */
  refineWeights?: ArtifactRef;
  profile: Profile;
  landmarkNames: string[];
  datasetVersion: string;
  codeVersion: string;
}

/** The refinement stage's input size when the model refines its landmarks (the request then carries each image at that size too). */
export function refineSizeOf(model: Pick<RunModel, 'refineWeights' | 'profile'>): number | undefined {
  return model.refineWeights ? model.profile.refine?.inputSize : undefined;
}

/** The site's champion (infra/models/champion.ts): what `predict --site S` uses. */
export { championRunId } from '../models/champion';

const LineageMetaSchema = z.looseObject({
  site: z.string().min(1),
  datasetVersion: z.string().min(1),
  codeVersion: z.string(),
  reportKey: z.string().min(1),
  artifacts: z.looseObject({ tplWeights: z.string().min(1), shapeModel: z.string().min(1).optional(), refineWeights: z.string().min(1).optional() }),
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
  const optionalRef = (name: 'shapeModel' | 'refineWeights'): ArtifactRef | undefined => {
    const rel = meta.data.artifacts[name];
    if (rel === undefined) return undefined;
    const entry = manifest.files.find((f) => f.key === rel);
    if (!entry) throw new UserError(`run ${runId}: its manifest does not list ${rel}`);
    return { key: `${prefix}/${entry.key}`, sha256: entry.sha256, size: entry.size };
  };
  const shapeModel = optionalRef('shapeModel');
  const refineWeights = optionalRef('refineWeights');
  const reportEntry = manifest.files.find((f) => `${prefix}/${f.key}` === meta.data.reportKey);
  const report = await readJson(store, { key: meta.data.reportKey, ...(reportEntry ? { sha256: reportEntry.sha256 } : {}) }, ReportSchema);
  const model: RunModel = {
    runId,
    site: meta.data.site,
    tplWeights: { key: `${prefix}/${weightsEntry.key}`, sha256: weightsEntry.sha256, size: weightsEntry.size },
    ...(shapeModel ? { shapeModel } : {}),
    // Only a profile with the refinement stage applies its weights (as evaluation does).
    ...(refineWeights && report.lineage.config.profile.refine ? { refineWeights } : {}),
    profile: report.lineage.config.profile,
    landmarkNames: report.dataset.landmarkNames,
    datasetVersion: meta.data.datasetVersion,
    codeVersion: meta.data.codeVersion,
  };
  return { model, flagBelow: report.lineage.config.config?.predict?.flagBelow ?? DEFAULT_FLAG_BELOW };
}
