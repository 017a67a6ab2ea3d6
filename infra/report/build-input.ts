/**
 * From a finished run's stored outputs to a `RunReportInput`, and the stored `report.html`.
 * Used by the pipeline's `writeReport` activity; knows nothing about Temporal.
 *
 * The caller supplies already-parsed data (per-image errors per protocol and split, predictions
 * and ground truth on the working grid, raw loss-log JSON) and two callbacks for the few
 * images; this module picks the best / median / worst test images (without any scored image: a
 * few images with their predicted points), fetches only those three, validates the loss logs (a
 * malformed log is dropped with a note, never fails the report) and renders.
 */
import { reportHtmlKeyFor } from '../storage/keys';
import type { ObjectStore, PutResult } from '../storage/object-store';
import { renderRunReport } from './render';
import { imageMre, pickOverlayCases, withUnionSet } from './stats';
import { LossLogSchema, type ImageErrors, type Promotion, type LossLog, type PredictedImage, type ProtocolErrors, type RunReportInput } from './types';

/** Sample overlays shown when nothing was scored. */
const SAMPLE_OVERLAYS = 3;

export interface BuildReportArgs {
  runId: string;
  createdAt: string;
  lineage: RunReportInput['lineage'];
  landmarkNames?: string[];
  datasetKind?: 'isbi2015' | 'site';
  /** Unit of the errors (default mm). */
  unit?: 'mm' | 'px';
  /** Per protocol: split key (test1, test2, test1+test2, …) → per-image errors (in `unit`); empty when nothing was scored. */
  errors: Array<{ protocol: 'A' | 'B'; sets: Record<string, ImageErrors[]> }>;
  /** The same for the SSL stage alone (CC2D-SSL), when it was evaluated. */
  sslErrors?: Array<{ protocol: 'A' | 'B'; sets: Record<string, ImageErrors[]> }>;
  /** Side of the square working grid the points below are on (e.g. 384). */
  gridSize: number;
  /** Predicted [y, x] cells per image id (protocol A, working grid). */
  predictionsYx: Record<string, Array<[number, number]>>;
  /** Every predicted image in original pixels, for the predictions table. */
  predictedImages?: PredictedImage[];
  /** Ground-truth [y, x] cells per test image id (protocol A GT, working grid). */
  truthYx: Record<string, Array<[number, number]>>;
  /** Width / height of the original image `id` (un-squashes the square working image). */
  displayAspect: (id: string) => number;
  /** PNG/JPEG bytes of image `id` (the working image is fine). Called for three ids at most. */
  loadImage: (id: string) => Promise<Uint8Array>;
  /** Parsed loss-log JSON of each training stage, as stored by the trainer activities. */
  losses?: { ssl?: unknown; tpl?: unknown; refine?: unknown };
  /** Pseudo-label errors on the training images where ground truth exists (protocol A). */
  pseudoLabelErrors?: ImageErrors[];
  /** Report notes (e.g. a dropped loss log) are passed here. */
  warn?: (message: string) => void;
  /** The promotion gate's decision on the run. */
  promotion?: Promotion;
  /** The pseudo-labels the refiner did not train on (profile `refine.maxRoundTrip`). */
  refineLeftOutLabels?: RunReportInput['refineLeftOutLabels'];
  /** The pseudo-labels the TPL net did not train on (profile `tpl.maxRoundTrip`). */
  tplLeftOutLabels?: RunReportInput['tplLeftOutLabels'];
}

function parseLossLog(raw: unknown, stage: 'ssl' | 'tpl' | 'refine', warn: (m: string) => void): LossLog | undefined {
  if (raw === undefined) return undefined;
  const parsed = LossLogSchema.safeParse(raw);
  if (!parsed.success) {
    warn(`report: ${stage} loss log ignored (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`);
    return undefined;
  }
  return parsed.data;
}

/** Overlays of predicted points only: the first few images other than the template (the template alone if it is the only one). */
async function sampleOverlays(args: BuildReportArgs): Promise<NonNullable<RunReportInput['overlays']>> {
  const splitOf = new Map((args.predictedImages ?? []).map((p) => [p.id, p.split]));
  const ids = Object.keys(args.predictionsYx);
  const others = ids.filter((id) => id !== args.lineage.templateId);
  const chosen = (others.length > 0 ? others : ids).slice(0, SAMPLE_OVERLAYS);
  const overlays: NonNullable<RunReportInput['overlays']> = [];
  for (const id of chosen) {
    overlays.push({
      case: 'sample', id, split: splitOf.get(id) ?? 'train', protocol: 'A',
      grid: { height: args.gridSize, width: args.gridSize },
      displayAspect: args.displayAspect(id),
      predictedYx: args.predictionsYx[id]!,
      truthYx: [],
      image: await args.loadImage(id),
    });
  }
  return overlays;
}

/** Builds the report input; fetches the three overlay images. */
export async function buildRunReportInput(args: BuildReportArgs): Promise<RunReportInput & { metrics: ProtocolErrors[] }> {
  const warn = args.warn ?? (() => {});
  const protocolSets = (errors: BuildReportArgs['errors']) =>
    errors
      .map((p) => ({ protocol: p.protocol, sets: Object.entries(p.sets).filter(([, images]) => images.length > 0).map(([split, images]) => ({ split, images })) }))
      .filter((p) => p.sets.length > 0);
  const metrics = protocolSets(args.errors);
  if (metrics.length === 0 && Object.keys(args.predictionsYx).length === 0) throw new Error('report: no evaluated test images and no predictions');
  const sslMetrics = args.sslErrors ? protocolSets(args.sslErrors) : [];
  const common = {
    runId: args.runId,
    createdAt: args.createdAt,
    lineage: args.lineage,
    ...(args.landmarkNames ? { landmarkNames: args.landmarkNames } : {}),
    ...(args.datasetKind ? { datasetKind: args.datasetKind } : {}),
    ...(args.unit ? { unit: args.unit } : {}),
    ...(args.predictedImages ? { predictions: args.predictedImages } : {}),
    ...(args.promotion ? { promotion: args.promotion } : {}),
    ...(args.refineLeftOutLabels ? { refineLeftOutLabels: args.refineLeftOutLabels } : {}),
    ...(args.tplLeftOutLabels ? { tplLeftOutLabels: args.tplLeftOutLabels } : {}),
  };
  const losses = () => {
    const ssl = parseLossLog(args.losses?.ssl, 'ssl', warn);
    const tpl = parseLossLog(args.losses?.tpl, 'tpl', warn);
    const refine = parseLossLog(args.losses?.refine, 'refine', warn);
    return { ...(ssl ? { ssl } : {}), ...(tpl ? { tpl } : {}), ...(refine ? { refine } : {}) };
  };
  if (metrics.length === 0) {
    return { ...common, metrics, losses: losses(), overlays: await sampleOverlays(args) };
  }

  // Overlays: best / median / worst by protocol-A image MRE on the widest evaluated set.
  const a = metrics.find((p) => p.protocol === 'A') ?? metrics[0]!;
  const sets = withUnionSet(a.sets);
  const main = sets.find((s) => s.split.toLowerCase() === 'test1+test2') ?? sets[0]!;
  const splitOf = new Map<string, string>();
  for (const s of a.sets) for (const im of s.images) splitOf.set(im.id, s.split);
  const withPoints = main.images.filter((im) => args.predictionsYx[im.id] && args.truthYx[im.id]);
  const overlays: NonNullable<RunReportInput['overlays']> = [];
  if (withPoints.length > 0) {
    const cases = pickOverlayCases(withPoints);
    for (const c of ['best', 'median', 'worst'] as const) {
      const im = cases[c];
      overlays.push({
        case: c,
        id: im.id,
        split: splitOf.get(im.id) ?? main.split,
        protocol: a.protocol,
        imageMreMm: imageMre(im),
        grid: { height: args.gridSize, width: args.gridSize },
        displayAspect: args.displayAspect(im.id),
        predictedYx: args.predictionsYx[im.id]!,
        truthYx: args.truthYx[im.id]!,
        image: await args.loadImage(im.id),
      });
    }
  } else {
    warn('report: no predictions with ground truth for the overlay images');
  }

  return {
    ...common,
    metrics,
    ...(sslMetrics.length > 0 ? { sslMetrics } : {}),
    losses: losses(),
    ...(args.pseudoLabelErrors && args.pseudoLabelErrors.length > 0 ? { pseudoLabels: { protocol: 'A' as const, images: args.pseudoLabelErrors } } : {}),
    overlays,
  };
}

/**
 * Renders and stores `<runPrefix>/report/report.html`. The key is fixed (the dashboard serves
 * it by run id); its sha256 goes into the run's lineage manifest like every other artifact.
 * A retried activity overwrites it with identical bytes when the inputs are identical.
 */
export async function writeRunReportHtml(store: ObjectStore, runPrefix: string, input: RunReportInput): Promise<PutResult & { html: string }> {
  const html = await renderRunReport(input);
  const bytes = new TextEncoder().encode(html);
  const put = await store.put(reportHtmlKeyFor(runPrefix), bytes, { contentType: 'text/html; charset=utf-8' });
  return { ...put, html };
}
