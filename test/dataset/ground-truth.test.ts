import { describe, expect, it } from 'vitest';
import { groundTruth, maxDoctorDisagreementMm, toWorkingYx } from '../../infra/dataset/ground-truth';
import type { PointXY } from '../../infra/dataset/types';

describe('ground truth (docs/method.md#ground-truth, #preprocessing)', () => {
  // Image 001, landmarks 1 (sella) and 2 (nasion): senior from the official 400_senior/001.txt, junior from the copy.
  const senior: PointXY[] = [[835, 996], [1473, 1029]];
  const junior: PointXY[] = [[829, 991], [1465, 1035]];

  it('paper GT = int(0.5·(junior+senior)) per coordinate, clean GT = the untruncated mean', () => {
    const gt = groundTruth(senior, junior);
    // x: (835+829)/2 = 832, y: (996+991)/2 = 993.5 → 993; x: (1473+1465)/2 = 1469, y: (1029+1035)/2 = 1032.
    expect(gt.gtTruncXyPx).toEqual([[832, 993], [1469, 1032]]);
    expect(gt.gtMeanXyPx).toEqual([[832, 993.5], [1469, 1032]]);
  });

  it('working cells [y, x] = [int(y·S/H), int(x·S/W)] on a 1935×2400 image', () => {
    const { gtTruncXyPx } = groundTruth(senior, junior);
    // 993·384/2400 = 158.88 → 158; 832·384/1935 = 165.11 → 165; 1032·384/2400 = 165.12 → 165; 1469·384/1935 = 291.52 → 291.
    expect(toWorkingYx(gtTruncXyPx, 1935, 2400, 384)).toEqual([[158, 165], [165, 291]]);
    // 993·192/2400 = 79.44; 832·192/1935 = 82.55; 1032·192/2400 = 82.56; 1469·192/1935 = 145.76.
    expect(toWorkingYx(gtTruncXyPx, 1935, 2400, 192)).toEqual([[79, 82], [82, 145]]);
    // 993·64/2400 = 26.48; 832·64/1935 = 27.52; 1032·64/2400 = 27.52; 1469·64/1935 = 48.59.
    expect(toWorkingYx(gtTruncXyPx, 1935, 2400, 64)).toEqual([[26, 27], [27, 48]]);
  });

  it('truncates toward zero, never rounds, including exact .5 means and the last pixel', () => {
    const gt = groundTruth([[0, 0], [1934, 2399], [3, 7]], [[1, 1], [1934, 2398], [4, 8]]);
    expect(gt.gtTruncXyPx).toEqual([[0, 0], [1934, 2398], [3, 7]]);
    expect(gt.gtMeanXyPx).toEqual([[0.5, 0.5], [1934, 2398.5], [3.5, 7.5]]);
    // Last pixel stays on the grid: int(2398·384/2400) = 383, int(1934·384/1935) = 383.
    expect(toWorkingYx([[1934, 2398]], 1935, 2400, 384)).toEqual([[383, 383]]);
  });

  it('measures the largest senior–junior distance in mm', () => {
    expect(maxDoctorDisagreementMm([[0, 0], [10, 10]], [[3, 4], [10, 10]], 0.1)).toBeCloseTo(0.5, 12);
  });
});
