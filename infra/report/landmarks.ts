import { ISBI_LANDMARK_NAMES } from '../dataset/types';

export { ISBI_LANDMARK_NAMES };

/** Names for `count` landmarks: the ISBI names for 19, "L1".."Ln" otherwise. */
export function landmarkNames(count: number, given?: readonly string[]): string[] {
  if (given && given.length === count) return [...given];
  if (count === ISBI_LANDMARK_NAMES.length) return [...ISBI_LANDMARK_NAMES];
  return Array.from({ length: count }, (_, i) => `L${i + 1}`);
}
