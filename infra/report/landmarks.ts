/**
 * Names of the 19 ISBI 2015 cephalometric landmarks, in the official order (spec §1.1).
 * Reports label per-landmark rows with these when a run has exactly 19 landmarks.
 */
export const ISBI_LANDMARK_NAMES: readonly string[] = [
  'Sella',
  'Nasion',
  'Orbitale',
  'Porion',
  'Subspinale (A point)',
  'Supramentale (B point)',
  'Pogonion',
  'Menton',
  'Gnathion',
  'Gonion',
  'Lower incisal incision',
  'Upper incisal incision',
  'Upper lip',
  'Lower lip',
  'Subnasale',
  'Soft-tissue pogonion',
  'Posterior nasal spine',
  'Anterior nasal spine',
  'Articulare',
];

/** Names for `count` landmarks: the ISBI names for 19, "L1".."Ln" otherwise. */
export function landmarkNames(count: number, given?: readonly string[]): string[] {
  if (given && given.length === count) return [...given];
  if (count === ISBI_LANDMARK_NAMES.length) return [...ISBI_LANDMARK_NAMES];
  return Array.from({ length: count }, (_, i) => `L${i + 1}`);
}
