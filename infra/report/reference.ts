/**
 * Published numbers a report sets beside its own (docs/method.md#published-numbers). All are on ISBI 2015
 * Test1+Test2 (IDs 151–400, 250 images, 4750 errors) under the paper protocol (A), with an
 * ImageNet-initialised VGG19 on the official BMP images.
 */
export interface ReferenceRow {
  method: string;
  /** The pipeline stage the row is comparable with: the final model or the SSL stage alone. */
  stage: 'tpl' | 'ssl';
  source: string;
  testSet: string;
  /** The split key the numbers are on, comparable with a report set of the same key. */
  splitKey: 'test1+test2';
  mreMm: number;
  /** radius (mm, as string) → percent; missing radii were not published. */
  sdrPercent: Partial<Record<'2' | '2.5' | '3' | '4', number>>;
}

export const PAPER_REFERENCE: readonly ReferenceRow[] = [
  {
    method: 'CC2D (SSL + TPL)',
    stage: 'tpl',
    source: 'Yao, Quan, Xiao, Zhou, MICCAI 2021 (arXiv 2103.04527), Table 1',
    testSet: 'Test1+Test2 (IDs 151–400, 250 images)',
    splitKey: 'test1+test2',
    mreMm: 2.72,
    sdrPercent: { '2': 49.81, '2.5': 58.73, '3': 68.18, '4': 81.01 },
  },
  {
    method: 'CC2D-SSL only (no TPL)',
    stage: 'ssl',
    source: 'same paper, Table 1',
    testSet: 'Test1+Test2 (IDs 151–400, 250 images)',
    splitKey: 'test1+test2',
    mreMm: 4.67,
    sdrPercent: { '2': 40.42, '4': 68.38 },
  },
];
