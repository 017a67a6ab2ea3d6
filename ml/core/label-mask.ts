/**
 * A label mask, [image][landmark]: false = that pseudo-label does not train (the TPL and
 * refinement trainers' `labelMask`, from the round-trip filter). One check for both trainers.
 */

/** Throws, prefixed with `who`, unless `mask` has one row per image and K entries per row. */
export function checkLabelMask(who: string, mask: readonly (readonly boolean[])[], imageCount: number, k: number): void {
  if (mask.length !== imageCount) throw new Error(`${who}: labelMask has ${mask.length} rows, expected ${imageCount} (one per image)`);
  mask.forEach((row, i) => {
    if (row.length !== k) throw new Error(`${who}: labelMask[${i}] has ${row.length} entries, expected K = ${k}`);
  });
}
