/**
 * The one rule that maps wide (16-bit, rescaled, signed) sample values to 8-bit grey, shared by
 * DICOM and 16-bit PNG/TIFF:
 *
 * 1. `window` (DICOM WindowCenter/WindowWidth, first value, applied to rescaled values): the DICOM
 *    linear VOI function: v <= c - 0.5 - (w - 1) / 2 -> 0, v > c - 0.5 + (w - 1) / 2 -> 255,
 *    else round(((v - (c - 0.5)) / (w - 1) + 0.5) * 255).
 * 2. `min-max`: the image's own range stretched to 0..255, round((v - min) * 255 / (max - min));
 *    a constant image maps to 0.
 * 3. `identity`: 8-bit data with no window and no rescale keeps its values (clamped to 0..255),
 *    so an 8-bit DICOM is not contrast-stretched.
 * MONOCHROME1 (`invert`) is applied last: 255 - v.
 */
export type GreyRule = { kind: 'window'; center: number; width: number } | { kind: 'min-max' } | { kind: 'identity' };

export function toGrey8(values: ArrayLike<number>, rule: GreyRule, invert = false): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n);
  const map = mapping(values, rule);
  for (let i = 0; i < n; i++) {
    const v = map(values[i] as number);
    out[i] = invert ? 255 - v : v;
  }
  return out;
}

function mapping(values: ArrayLike<number>, rule: GreyRule): (v: number) => number {
  const clamp = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));
  if (rule.kind === 'identity') return clamp;
  if (rule.kind === 'window') {
    const { center, width } = rule;
    const low = center - 0.5 - (width - 1) / 2;
    const high = center - 0.5 + (width - 1) / 2;
    return (v) => (v <= low ? 0 : v > high ? 255 : clamp(((v - (center - 0.5)) / (width - 1) + 0.5) * 255));
  }
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!(max > min)) return () => 0;
  const scale = 255 / (max - min);
  return (v) => clamp((v - min) * scale);
}

/** A human-readable form of the rule, recorded with the image. */
export function describeGreyRule(rule: GreyRule, invert: boolean): string {
  const base =
    rule.kind === 'window' ? `window center ${rule.center} width ${rule.width}` : rule.kind === 'min-max' ? 'min-max of the stored values' : 'identity (8-bit)';
  return invert ? `${base}, inverted (MONOCHROME1)` : base;
}
