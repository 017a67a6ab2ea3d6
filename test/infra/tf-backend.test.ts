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
});
