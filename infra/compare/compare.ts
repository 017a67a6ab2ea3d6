/**
 * Two runs side by side (pure): what differs in their config and lineage, and their metrics per
 * stage, protocol and split (MRE, SD, SDRs, per-landmark MRE) with deltas b − a, plus the SDR
 * curves of both. Numbers come from the stored per-image errors through the report's own
 * statistics, so they equal what each run's report shows.
 */
import type { JsonValue } from '../../contracts/documents';
import { SDR_RADII_MM, type ErrorUnit, type StageErrors } from '../../ml/metrics';
import { landmarkNames } from '../report/landmarks';
import { allErrors, landmarkErrors, sdrCurve, summarizeErrors, withUnionSet } from '../report/stats';
import type { SetErrors } from '../report/types';
import type { RunSnapshot } from './snapshot';

export interface ConfigChange {
  /** Dotted path, e.g. `config.seed`, `profile.ssl.steps`, `lineage.datasetVersion`. */
  path: string;
  /** Absent on the side that does not have the field. */
  a?: JsonValue;
  b?: JsonValue;
}

/** A number of each run and b − a; null where a run has no such number (or it is not finite). */
export interface Pair {
  a: number | null;
  b: number | null;
  delta: number | null;
}

export type CompareStage = 'final' | 'ssl';

export interface SetComparison {
  stage: CompareStage;
  protocol: string;
  split: string;
  images: { a: number | null; b: number | null };
  mre: Pair;
  sd: Pair;
  /** radius (as a string, like the stored summaries) → SDR percent. */
  sdr: Record<string, Pair>;
  /** MRE per landmark, matched by name (by index when a run has no names). */
  landmarks: Array<{ name: string } & Pair>;
  /**
   * When the two runs scored different images in this set (other dataset versions): the MRE of
   * each over the images both scored (by id), as the promotion gate compares them; absent when
   * they scored the same images or none in common.
   */
  common?: { images: number; mre: Pair };
}

export interface SdrCurves {
  stage: CompareStage;
  protocol: string;
  split: string;
  radii: number[];
  /** SDR percent at each radius; null for a run without this set. */
  a: number[] | null;
  b: number[] | null;
}

export interface RunHeader {
  runId: string;
  site?: string;
  profile?: string;
  datasetVersion: string;
  configHash?: string;
  createdAt?: string;
  unit: ErrorUnit;
  headlineMre: number | null;
  headlineSet?: string;
  noMetrics?: string;
}

export interface RunComparison {
  a: RunHeader;
  b: RunHeader;
  configChanges: ConfigChange[];
  sets: SetComparison[];
  curves: SdrCurves[];
  /** Caveats a reader needs, e.g. different datasets or units. */
  notes: string[];
}

const isObject = (v: JsonValue | undefined): v is { [k: string]: JsonValue } => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Leaf-level differences of two JSON values (arrays compared whole), in key order. */
export function diffJson(a: JsonValue | undefined, b: JsonValue | undefined, path = ''): ConfigChange[] {
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffJson(a[k], b[k], path ? `${path}.${k}` : k));
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  return [{ path, ...(a !== undefined ? { a } : {}), ...(b !== undefined ? { b } : {}) }];
}

const finite = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);

/** Both values and b − a; no delta when `comparable` is false (errors in mm against errors in px). */
export function pair(a: number | undefined, b: number | undefined, comparable = true): Pair {
  const fa = finite(a);
  const fb = finite(b);
  return { a: fa, b: fb, delta: comparable && fa !== null && fb !== null ? fb - fa : null };
}

/** A stage's sets of one protocol, with the Test1+Test2 union the report shows. */
function setsOf(errors: StageErrors | undefined, protocol: string): Map<string, SetErrors> {
  const sets = errors?.find((e) => e.protocol === protocol)?.sets ?? {};
  return new Map(withUnionSet(Object.entries(sets).map(([split, images]) => ({ split, images }))).map((s) => [s.split, s]));
}

function header(s: RunSnapshot): RunHeader {
  return {
    runId: s.runId,
    ...(s.site ? { site: s.site } : {}),
    ...(s.profile ? { profile: s.profile } : {}),
    datasetVersion: s.datasetVersion,
    ...(s.configHash ? { configHash: s.configHash } : {}),
    ...(s.createdAt ? { createdAt: s.createdAt } : {}),
    unit: s.unit,
    headlineMre: finite(s.headline?.mre),
    ...(s.headline?.set ? { headlineSet: s.headline.set } : {}),
    ...(s.noMetrics ? { noMetrics: s.noMetrics } : {}),
  };
}

/** Landmark names of a run, as many as its errors have points. */
function namesOf(s: RunSnapshot, sets: SetErrors[]): string[] {
  const k = sets.find((x) => x.images.length > 0)?.images[0]?.errorsMm.length ?? s.landmarkNames.length;
  return landmarkNames(k, s.landmarkNames);
}

const CURVE_MAX = 10;
const CURVE_STEP = 0.1;

function compareSet(
  stage: CompareStage, protocol: string, split: string, sa: SetErrors | undefined, sb: SetErrors | undefined, na: string[], nb: string[], sameUnit: boolean,
): { set: SetComparison; curves: SdrCurves } {
  const two = (x: number | undefined, y: number | undefined) => pair(x, y, sameUnit);
  const ea = sa ? allErrors(sa.images) : undefined;
  const eb = sb ? allErrors(sb.images) : undefined;
  const ma = ea ? summarizeErrors(ea) : undefined;
  const mb = eb ? summarizeErrors(eb) : undefined;
  const names = [...na, ...nb.filter((n) => !na.includes(n))];
  const landmarkMre = (s: SetErrors | undefined, own: string[], name: string): number | undefined => {
    const k = own.indexOf(name);
    return s && k >= 0 ? summarizeErrors(landmarkErrors(s.images, k)).mreMm : undefined;
  };
  const curve = (e: number[] | undefined) => (e ? sdrCurve(e, CURVE_MAX, CURVE_STEP).map((p) => p.sdr) : null);
  const common = sa && sb ? commonImages(sa, sb, sameUnit) : undefined;
  return {
    set: {
      stage, protocol, split,
      images: { a: sa ? sa.images.length : null, b: sb ? sb.images.length : null },
      mre: two(ma?.mreMm, mb?.mreMm),
      sd: two(ma?.sdMm, mb?.sdMm),
      sdr: Object.fromEntries(SDR_RADII_MM.map((r) => [String(r), two(ma?.sdr.get(r), mb?.sdr.get(r))])),
      landmarks: names.map((name) => ({ name, ...two(landmarkMre(sa, na, name), landmarkMre(sb, nb, name)) })),
      ...(common ? { common } : {}),
    },
    curves: {
      stage, protocol, split,
      radii: sdrCurve([], CURVE_MAX, CURVE_STEP).map((p) => Number(p.r.toFixed(2))),
      a: curve(ea), b: curve(eb),
    },
  };
}

/** The MRE of both runs over the images both scored, when their image sets differ and share some. */
function commonImages(sa: SetErrors, sb: SetErrors, sameUnit: boolean): SetComparison['common'] {
  const ida = new Set(sa.images.map((i) => i.id));
  const idb = new Set(sb.images.map((i) => i.id));
  const shared = [...ida].filter((id) => idb.has(id));
  if (shared.length === 0 || (shared.length === ida.size && shared.length === idb.size)) return undefined;
  const keep = new Set(shared);
  const mre = (s: SetErrors) => summarizeErrors(allErrors(s.images.filter((i) => keep.has(i.id)))).mreMm;
  return { images: shared.length, mre: pair(mre(sa), mre(sb), sameUnit) };
}

/** Compares run `a` with run `b` (deltas are b − a). */
export function compareRuns(a: RunSnapshot, b: RunSnapshot): RunComparison {
  const configChanges = [
    ...diffJson({ config: a.config.config, profile: a.config.profile }, { config: b.config.config, profile: b.config.profile }),
    ...diffJson({ datasetVersion: a.datasetVersion, codeVersion: a.codeVersion ?? null }, { datasetVersion: b.datasetVersion, codeVersion: b.codeVersion ?? null }, 'lineage'),
  ];
  const notes: string[] = [];
  if (a.datasetVersion !== b.datasetVersion) notes.push('the runs used different dataset versions: their metrics are on different images or labels');
  const sameUnit = a.unit === b.unit;
  if (!sameUnit) notes.push(`run ${a.runId} reports errors in ${a.unit}, run ${b.runId} in ${b.unit}: no deltas (they would mix units)`);
  if (a.protocolB !== b.protocolB) {
    const corner = a.protocolB === 'corner' ? a : b;
    notes.push(`protocol B: run ${corner.runId} was scored before grid points were mapped to the centre of their cell (docs/accuracy.md#cell-centre), so B deltas include that change (≈ 0.1-0.2 mm); protocol A compares`);
  }
  for (const s of [a, b]) if (s.noMetrics) notes.push(`run ${s.runId} has no metrics: ${s.noMetrics}`);

  const sets: SetComparison[] = [];
  const curves: SdrCurves[] = [];
  for (const stage of ['final', 'ssl'] as const) {
    const protocols = [...new Set([...(a.errors[stage] ?? []), ...(b.errors[stage] ?? [])].map((e) => e.protocol))].sort();
    for (const protocol of protocols) {
      const sa = setsOf(a.errors[stage], protocol);
      const sb = setsOf(b.errors[stage], protocol);
      const na = namesOf(a, [...sa.values()]);
      const nb = namesOf(b, [...sb.values()]);
      for (const split of [...new Set([...sa.keys(), ...sb.keys()])]) {
        const c = compareSet(stage, protocol, split, sa.get(split), sb.get(split), na, nb, sameUnit);
        sets.push(c.set);
        curves.push(c.curves);
      }
    }
  }
  if (a.landmarkNames.length > 0 && b.landmarkNames.length > 0 && a.landmarkNames.join('\n') !== b.landmarkNames.join('\n')) {
    notes.push('the runs have different landmark sets: landmarks are matched by name');
  }
  return { a: header(a), b: header(b), configChanges, sets, curves, notes };
}
