/** Commander option helpers shared by several commands. */

/** Accumulates a repeatable option (`--set a=1 --set b=2`) into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
