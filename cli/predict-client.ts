/**
 * The client side of `cc2d predict`: checks the inputs, resolves the model, stores the input
 * images and the request document, starts (or joins) the `cc2dPredict` workflow for the
 * request, follows it with a progress bar and writes the published exports to a local folder.
 * Bad input is a UserError (exit 2) raised before anything is stored; an identical request that
 * is already published is downloaded without running again.
 */
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { PREDICT_REQUEST_FORMAT, type PredictRequest } from '../contracts/documents';
import type { PredictInput, PredictResult } from '../contracts/types';
import { PREDICT_WORKFLOW_TYPE, WORKFLOW_TASK_QUEUE } from '../infra/config/names';
import type { StackSettings } from '../infra/config/stack';
import { UserError } from '../infra/errors';
import { EXPORT_FILES, EXPORT_FORMATS, isExportFile, type ExportFormat } from '../infra/exports/predictions';
import { checkTargetFolder, writeFolderAtomically } from '../infra/exports/write-local';
import { collectImageFiles, datasetImages, readLocalImages, readSpacingTable, workingImage, type ImageSpacing, type RequestImage } from '../infra/predict/inputs';
import { championRunId, loadRunModel, refineSizeOf } from '../infra/predict/model';
import { PREDICT_REQUEST_FILE, shardCountFor } from '../infra/predict/request';
import { canonicalJson, sha256Hex } from '../infra/storage/hash';
import { siteKeys } from '../infra/storage/keys';
import { readManifest, readManifestFile } from '../infra/storage/manifest';
import type { ObjectStore } from '../infra/storage/object-store';
import type { cc2dPredict } from '../workflows';
import { progressQuery } from '../workflows/definitions';
import { counted } from './format';
import { LocalWorkers, type WorkersMode } from './local-workers';
import { ProgressView } from './progress-view';

export interface PredictOptions {
  /** Image files and folders (exclusive with datasetVersion). */
  paths: string[];
  datasetVersion?: string;
  runId?: string;
  site?: string;
  out?: string;
  formats: ExportFormat[];
  flagBelow?: number;
  /** mm per pixel for images without their own (DICOM) spacing. */
  spacingMm?: number;
  /** An `id,mm` file giving images their spacing (before the DICOM header and spacingMm). */
  spacingCsv?: string;
  imagesPerShard?: number;
  heartbeatTimeoutSeconds?: number;
  workers: WorkersMode;
  verbose?: boolean;
  progress?: boolean;
  /** Tests: their own queues. */
  workflowTaskQueue?: string;
  taskQueues?: { gpu?: string; cpu?: string };
}

export function parseFormats(value: string): ExportFormat[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((f) => !(EXPORT_FORMATS as readonly string[]).includes(f));
  if (bad.length > 0 || list.length === 0) throw new UserError(`--format: expected a comma-separated subset of ${EXPORT_FORMATS.join(',')}, got "${value}"`);
  return [...new Set(list)] as ExportFormat[];
}

function checkOptions(o: PredictOptions): void {
  if (o.datasetVersion !== undefined && o.paths.length > 0) throw new UserError('predict: give image paths or --dataset-version, not both');
  if (o.flagBelow !== undefined && !(o.flagBelow >= 0 && o.flagBelow <= 1)) throw new UserError(`--flag-below: ${o.flagBelow} is not in [0, 1]`);
  if (o.spacingMm !== undefined && !(o.spacingMm > 0 && o.spacingMm <= 10)) throw new UserError(`--spacing: ${o.spacingMm} mm is not in (0, 10]`);
  if (o.spacingCsv !== undefined && o.datasetVersion !== undefined) throw new UserError('--spacing-csv: only with image paths (a dataset version has its spacing)');
  if (o.imagesPerShard !== undefined && !(Number.isInteger(o.imagesPerShard) && o.imagesPerShard >= 1)) throw new UserError(`--shard-size: ${o.imagesPerShard} is not a positive integer`);
}

/** The request document and its bytes, with its input images stored (content-addressed). */
export async function prepareRequest(store: ObjectStore, o: PredictOptions): Promise<{ request: PredictRequest; bytes: Uint8Array; sha256: string }> {
  checkOptions(o);
  // Local images are read and checked before the model is even looked up: bad input fails fast.
  const local = o.datasetVersion === undefined ? await readLocalImages(await collectImageFiles(o.paths)) : undefined;
  const spacing: ImageSpacing = {
    ...(o.spacingCsv !== undefined && local ? { table: await readSpacingTable(o.spacingCsv, local) } : {}),
    ...(o.spacingMm !== undefined ? { fixedMm: o.spacingMm } : {}),
  };
  const runId = o.runId ?? (o.site !== undefined ? await championRunId(store, o.site) : undefined);
  if (runId === undefined) throw new UserError(o.site !== undefined ? `site ${o.site} has no champion model yet: give --run ID` : 'predict: which model? give --run ID (or --site S for its champion)');
  const { model, flagBelow: runFlagBelow } = await loadRunModel(store, runId);
  const size = model.profile.inputSize;
  const fineSize = refineSizeOf(model);
  let images: RequestImage[];
  if (local) {
    const storeInput = async (png: Uint8Array) => {
      const sha = sha256Hex(png);
      const key = siteKeys.predictionInput(model.site, sha);
      if (!(await store.exists(key))) await store.put(key, png, { contentType: 'image/png' });
      return { key, sha256: sha, size: png.byteLength };
    };
    images = [];
    for (const img of local) {
      const { png, finePng, entry } = await workingImage(img, size, spacing, fineSize);
      images.push({ ...entry, working: await storeInput(png), ...(finePng ? { fine: await storeInput(finePng) } : {}) });
    }
  } else {
    images = await datasetImages(store, o.datasetVersion!, size, model.landmarkNames, fineSize);
  }
  const request: PredictRequest = {
    format: PREDICT_REQUEST_FORMAT,
    site: model.site,
    flagBelow: o.flagBelow ?? runFlagBelow,
    model,
    ...(o.datasetVersion !== undefined ? { inputDatasetVersion: o.datasetVersion } : {}),
    images,
  };
  const bytes = new TextEncoder().encode(canonicalJson(request) + '\n');
  return { request, bytes, sha256: sha256Hex(bytes) };
}

/** Follows the workflow with a progress bar (images done) until it closes. */
async function follow(handle: WorkflowHandle<typeof cc2dPredict>, view: ProgressView, local?: LocalWorkers): Promise<PredictResult> {
  let done = false;
  const result = handle.result().finally(() => {
    done = true;
  });
  const poll = (async () => {
    while (!done) {
      const p = await handle.query(progressQuery).catch(() => undefined);
      if (p) view.update(p);
      await local?.check(handle).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    return await result;
  } finally {
    await poll;
  }
}

async function startOrJoin(client: Client, input: PredictInput, workflowId: string, taskQueue: string): Promise<WorkflowHandle<typeof cc2dPredict>> {
  try {
    return await client.workflow.start<typeof cc2dPredict>(PREDICT_WORKFLOW_TYPE, { taskQueue, workflowId, args: [input] });
  } catch (err) {
    // The same request is already running (another terminal, a retried command): follow that one.
    if (err instanceof WorkflowExecutionAlreadyStartedError) return client.workflow.getHandle<typeof cc2dPredict>(workflowId);
    throw err;
  }
}

export interface PredictOutcome {
  result: PredictResult;
  /** Files written under `out`, relative to it. */
  written: string[];
  /** The request's low-confidence threshold (--flag-below, else the model run's config). */
  flagBelow: number;
}

export async function runPredict(client: Client, settings: StackSettings, store: ObjectStore, o: PredictOptions): Promise<PredictOutcome> {
  // A bad --out is refused before any image is read or predicted.
  if (o.out !== undefined) await checkTargetFolder(o.out, isExportFile, '--out');
  const { request, bytes, sha256 } = await prepareRequest(store, o);
  const prefix = siteKeys.predictions(request.site, sha256);
  let result: PredictResult;
  const published = await readManifest(store, prefix, { verify: 'none' }).catch(() => undefined);
  if (published) {
    const m = published.meta as { images?: number; landmarks?: number; flagged?: number };
    result = {
      requestSha256: sha256, prefix, manifestKey: `${prefix}/manifest.json`,
      images: m.images ?? request.images.length, landmarks: m.landmarks ?? 0, flagged: m.flagged ?? 0, alreadyPublished: true,
    };
  } else {
    const requestRef = await store.put(`${prefix}/${PREDICT_REQUEST_FILE}`, bytes, { contentType: 'application/json' });
    const input: PredictInput = {
      request: requestRef, site: request.site, requestSha256: sha256, imageCount: request.images.length,
      shardCount: shardCountFor(request.images.length, o.imagesPerShard),
      heartbeatTimeoutSeconds: o.heartbeatTimeoutSeconds ?? 60,
      ...(o.taskQueues ? { taskQueues: o.taskQueues } : {}),
    };
    const local = new LocalWorkers(client, settings, o.workers, o.verbose ?? false, o.taskQueues ?? {});
    await local.beforeStart();
    const view = new ProgressView(o.progress ?? true);
    try {
      const handle = await startOrJoin(client, input, `cc2d-predict-${request.site}-${sha256.slice(0, 16)}`, o.workflowTaskQueue ?? WORKFLOW_TASK_QUEUE);
      process.stderr.write(`[cc2d] predicting ${counted(request.images.length, 'image')} with run ${request.model.runId} (${counted(input.shardCount, 'shard')}): ${handle.workflowId}\n`);
      result = await follow(handle, view, local);
    } finally {
      view.stop();
      await local.shutdown();
    }
  }
  const written = o.out !== undefined ? await downloadExports(store, prefix, request, o.formats, o.out) : [];
  return { result, written, flagBelow: request.flagBelow };
}

/**
 * Writes the chosen exports of a published request as the folder `out` (sha256-checked): an
 * earlier export there is replaced as a whole, so no file of another request or model stays.
 */
export async function downloadExports(store: ObjectStore, prefix: string, request: PredictRequest, formats: readonly ExportFormat[], out: string): Promise<string[]> {
  const manifest = await readManifest(store, prefix, { verify: 'none' });
  const rel = [
    ...(formats.includes('csv') ? [EXPORT_FILES.csv] : []),
    ...(formats.includes('json') ? [EXPORT_FILES.json] : []),
    ...(formats.includes('mrk') ? request.images.map((img) => EXPORT_FILES.markups(img.id)) : []),
  ];
  const files = await Promise.all(rel.map(async (relPath) => ({ relPath, bytes: await readManifestFile(store, prefix, manifest, relPath) })));
  await writeFolderAtomically(out, files, isExportFile, '--out');
  return rel;
}
