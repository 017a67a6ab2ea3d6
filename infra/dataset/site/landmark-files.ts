/**
 * Landmark files of a site, one per image under `landmarks/`, named `<image id>.<ext>`:
 *
 * - `.csv`: header `name,x,y`, one landmark per row, x/y in pixels of the original image.
 * - `.mrk.json`: a 3D Slicer markups file with one "Fiducial" markup whose control points are in
 *   mm (`coordinateUnits` "mm" when given) in the `coordinateSystem` LPS or RAS (required: the
 *   two differ by a sign, so guessing would mirror every point). The conversion rule: Slicer
 *   shows a 2D image with origin 0 and identity direction in LPS, so pixel (x, y) sits at
 *   LPS (x·s, y·s, 0) with s the image's pixel spacing, and RAS = (-L, -P, S). Hence
 *   x = L / s = -R / s and y = P / s = -A / s; z is ignored. `toSlicerMarkups` is the inverse,
 *   so export then import gives the same pixels back.
 * - `.txt` (ISBI 2015): K lines "x,y" in pixels, read by ../annotation. K is the template's
 *   landmark count when known (extra lines, like ISBI's class labels, are then ignored), else
 *   the number of leading lines holding a comma. Names are the template's, else L1..LK.
 *
 * Parsers return problems without the file name; the caller adds it. Bounds against the image
 * size are checked by `outsideImage` once the size is known.
 */
import { z } from 'zod';
import { LANDMARK_NAME_PATTERN, LANDMARK_NAME_RULE } from '../../../contracts/documents';
import { MAX_ANNOTATION_BYTES, parseAnnotationText } from '../annotation';
import { parseDecimal, readCsvTable } from './csv';
import type { NamedPoint } from './types';

export type LandmarkFileFormat = 'csv' | 'slicer' | 'isbi';

export interface ParsedLandmarks {
  landmarks: NamedPoint[];
  /** Empty when `landmarks` is complete. */
  problems: string[];
}

const SUFFIXES: Array<[string, LandmarkFileFormat]> = [
  ['.mrk.json', 'slicer'],
  ['.csv', 'csv'],
  ['.txt', 'isbi'],
];

/** The format and image id of a landmark file name, or undefined for other files. */
export function landmarkFileKind(fileName: string): { format: LandmarkFileFormat; id: string } | undefined {
  const lower = fileName.toLowerCase();
  for (const [suffix, format] of SUFFIXES) {
    if (lower.endsWith(suffix) && lower.length > suffix.length) return { format, id: fileName.slice(0, fileName.length - suffix.length) };
  }
  return undefined;
}

export interface LandmarkContext {
  /** Pixel spacing of the annotated image (needed for Slicer files). */
  spacingMm?: number;
  /** The template's landmark names, in order (ISBI files take them; K follows). */
  names?: readonly string[];
}

export function parseLandmarkFile(bytes: Uint8Array, format: LandmarkFileFormat, ctx: LandmarkContext = {}): ParsedLandmarks {
  if (bytes.length === 0) return fail('empty landmark file (0 bytes)');
  if (bytes.length > MAX_ANNOTATION_BYTES) return fail(`landmark file too large (${bytes.length} bytes, limit ${MAX_ANNOTATION_BYTES})`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail('landmark file is not UTF-8 text');
  }
  if (format === 'csv') return parseLandmarkCsv(text);
  if (format === 'isbi') return parseIsbiLandmarks(text, ctx.names);
  if (ctx.spacingMm === undefined) return fail('a Slicer markups file is in mm: the image needs a pixel spacing (DICOM tag, spacing.csv or --spacing)');
  return parseSlicerMarkups(text, ctx.spacingMm);
}

export function parseLandmarkCsv(text: string): ParsedLandmarks {
  const { rows, problems } = readCsvTable(text, ['name', 'x', 'y']);
  const landmarks: NamedPoint[] = [];
  for (const { line, cells } of rows) {
    const [name, xs, ys] = cells as [string, string, string];
    const x = parseDecimal(xs);
    const y = parseDecimal(ys);
    if (x === undefined || y === undefined) {
      problems.push(`line ${line}: non-numeric coordinate in ${JSON.stringify(`${xs},${ys}`)} for landmark ${JSON.stringify(name)}`);
      continue;
    }
    landmarks.push({ name, x, y });
  }
  return finish(landmarks, problems);
}

export function parseIsbiLandmarks(text: string, names?: readonly string[]): ParsedLandmarks {
  const count = names?.length ?? leadingPointLines(text);
  if (count === 0) return fail('no "x,y" landmark lines');
  const parsed = parseAnnotationText(text, count);
  const landmarks = parsed.points.map(([x, y], i) => ({ name: names?.[i] ?? `L${i + 1}`, x, y }));
  return finish(landmarks, parsed.problems);
}

function leadingPointLines(text: string): number {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  let n = 0;
  while (n < lines.length && (lines[n] as string).includes(',')) n++;
  return n;
}

const ControlPoint = z.looseObject({
  label: z.string(),
  position: z.tuple([z.number(), z.number(), z.number()]),
  positionStatus: z.string().optional(),
});
const Markup = z.looseObject({
  type: z.string(),
  coordinateSystem: z.enum(['LPS', 'RAS'], { error: 'coordinateSystem must be "LPS" or "RAS"' }),
  coordinateUnits: z.literal('mm', { error: 'coordinateUnits must be "mm"' }).optional(),
  controlPoints: z.array(ControlPoint),
});
const MarkupsFile = z.looseObject({ markups: z.array(Markup).length(1, { error: 'exactly one markup expected' }) });

export type SlicerCoordinateSystem = 'LPS' | 'RAS';

export function parseSlicerMarkups(text: string, spacingMm: number): ParsedLandmarks {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message.slice(0, 200)})`);
  }
  const parsed = MarkupsFile.safeParse(json);
  if (!parsed.success) {
    return { landmarks: [], problems: parsed.error.issues.map((i) => `Slicer markups field ${i.path.map(String).join('.') || '(root)'}: ${i.message}`) };
  }
  const markup = parsed.data.markups[0] as z.infer<typeof Markup>;
  if (markup.type !== 'Fiducial') return fail(`Slicer markup type ${JSON.stringify(markup.type)}: a "Fiducial" point list expected`);
  const sign = markup.coordinateSystem === 'RAS' ? -1 : 1;
  const problems: string[] = [];
  const landmarks: NamedPoint[] = [];
  markup.controlPoints.forEach((p, i) => {
    if (p.positionStatus !== undefined && p.positionStatus !== 'defined') {
      problems.push(`control point ${i + 1} (${JSON.stringify(p.label)}): positionStatus ${JSON.stringify(p.positionStatus)}, the landmark is not placed`);
      return;
    }
    landmarks.push({ name: p.label, x: (sign * p.position[0]) / spacingMm, y: (sign * p.position[1]) / spacingMm });
  });
  return finish(landmarks, problems);
}

/**
 * Slicer markups JSON for `points` (pixels) on an image of spacing `spacingMm`: the inverse of
 * parseSlicerMarkups. `roundMm` rounds each position (mm) as the caller's other exports do, so
 * the same landmark carries the same millimetres in every file.
 */
export function toSlicerMarkups(points: readonly NamedPoint[], spacingMm: number, coordinateSystem: SlicerCoordinateSystem = 'LPS', roundMm: (mm: number) => number = (mm) => mm): object {
  const sign = coordinateSystem === 'RAS' ? -1 : 1;
  return {
    '@schema': 'https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/markups-schema-v1.0.3.json#',
    markups: [
      {
        type: 'Fiducial',
        coordinateSystem,
        coordinateUnits: 'mm',
        controlPoints: points.map((p, i) => ({
          id: String(i + 1),
          label: p.name,
          position: [roundMm(sign * p.x * spacingMm), roundMm(sign * p.y * spacingMm), 0],
          positionStatus: 'defined',
        })),
      },
    ],
  };
}

/** Names: the dataset contract's landmark names (checked here so that `site add` refuses what every run would), unique in the file. */
function finish(landmarks: NamedPoint[], problems: string[]): ParsedLandmarks {
  const seen = new Set<string>();
  for (const { name } of landmarks) {
    if (!LANDMARK_NAME_PATTERN.test(name)) problems.push(`landmark name ${JSON.stringify(name)}: ${LANDMARK_NAME_RULE}`);
    else if (seen.has(name)) problems.push(`duplicate landmark name ${JSON.stringify(name)}`);
    seen.add(name);
  }
  if (problems.length === 0 && landmarks.length === 0) problems.push('no landmarks');
  return problems.length > 0 ? { landmarks: [], problems } : { landmarks, problems };
}

function fail(problem: string): ParsedLandmarks {
  return { landmarks: [], problems: [problem] };
}

/**
 * Puts `landmarks` in the order of `names`, or explains the difference naming both sets.
 * `reference` names the file the names come from (the template's annotation).
 */
export function matchNames(landmarks: readonly NamedPoint[], names: readonly string[], reference: string): { landmarks: NamedPoint[] } | { problem: string } {
  const byName = new Map(landmarks.map((p) => [p.name, p]));
  const ordered = names.map((n) => byName.get(n)).filter((p): p is NamedPoint => p !== undefined);
  if (ordered.length === names.length && landmarks.length === names.length) return { landmarks: ordered };
  const missing = names.filter((n) => !byName.has(n));
  const extra = landmarks.map((p) => p.name).filter((n) => !names.includes(n));
  const list = (xs: readonly string[]): string => xs.map((x) => JSON.stringify(x)).join(', ') || 'none';
  return {
    problem:
      `landmark names differ from the template's (${reference}: ${names.length} names ${list(names)}; this file: ${landmarks.length} names ${list(landmarks.map((p) => p.name))}; ` +
      `missing ${list(missing)}, unexpected ${list(extra)})`,
  };
}

/** One problem per landmark outside [0, width) × [0, height). */
export function outsideImage(landmarks: readonly NamedPoint[], width: number, height: number, imageFile: string): string[] {
  return landmarks
    .filter((p) => !(p.x >= 0 && p.y >= 0 && p.x < width && p.y < height))
    .map((p) => `landmark ${JSON.stringify(p.name)} (x=${p.x}, y=${p.y}) is outside the ${width}x${height} image ${imageFile}`);
}
