/** The profiling scripts' score of predictions on validation (training) images, as the evaluate stage scores test images (ml/metrics). */
import { scoreTestPredictions, type LabelledImages } from '../../ml/metrics';
import type { PointYX } from '../../ml/types';

export interface ValidationScore {
  mre: number;
  sd: number;
  sdr2: number;
  sdr4: number;
  outliers10: number;
}

/** MRE, SD, SDR@2/4 and the share of errors > 10 mm per protocol, rounded for a JSON line. */
export function scoreValidation(labels: LabelledImages, ids: readonly string[], predicted: readonly PointYX[][], gridSize: number): Record<string, ValidationScore> {
  const s = scoreTestPredictions({ labels, predicted: new Map(ids.map((id, i) => [id, predicted[i]!])), testSplits: { val: [...ids] }, gridSize });
  const out: Record<string, ValidationScore> = {};
  for (const e of s.errors) {
    const m = s.summary[e.protocol]!.val!;
    out[e.protocol] = { mre: +m.mreMm.toFixed(3), sd: +m.sdMm.toFixed(3), sdr2: +m.sdr['2']!.toFixed(1), sdr4: +m.sdr['4']!.toFixed(1), outliers10: +m.outlierPercent!.toFixed(2) };
  }
  return out;
}

/** The ISBI training images split for held-out validation: train on 001-100, score 101-150; the template in neither. */
export function holdoutSplit(ids: Iterable<string>, templateId: string): { trainIds: string[]; valIds: string[] } {
  const all = [...ids].filter((id) => id !== templateId).sort();
  return { trainIds: all.filter((id) => Number(id) >= 1 && Number(id) <= 100), valIds: all.filter((id) => Number(id) >= 101 && Number(id) <= 150) };
}
