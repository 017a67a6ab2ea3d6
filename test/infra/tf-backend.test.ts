import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { activeBackend } from '../../infra/tf-backend';
import { isStrict } from '../support/strict';

describe('tf backend selection', () => {
  it('uses one tfjs-core and reports the active backend', () => {
    const info = activeBackend();
    expect(info).toBeDefined();
    expect(tf.getBackend()).toBe(info!.backend);
    if (isStrict()) expect(info!.backend).toBe('tensorflow');
  });

  it('reports the devices TensorFlow computes on', () => {
    const info = activeBackend()!;
    expect(info.devices.length).toBeGreaterThan(0);
    for (const d of info.devices) expect(d).toMatch(/^(CPU|GPU:\d+( .+)?)$/);
    // infra/check-gpu-build.sh: the GPU build must be the one that loaded.
    if (process.env.CC2D_EXPECT_NATIVE_PACKAGE) expect(info.nativePackage).toBe(process.env.CC2D_EXPECT_NATIVE_PACKAGE);
  });
});
