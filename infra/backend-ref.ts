import type { BackendRef } from '../contracts/types';

/** A recorded backend as people read it (report lineage, logs): "tensorflow · TensorFlow 2.21.0 · TF.js 4.22.0 · CPU · TF_ENABLE_ONEDNN_OPTS=1". */
export function describeBackendRef(b: BackendRef): string {
  return `${b.backend} · TensorFlow ${b.tfVersion} · TF.js ${b.tfjsVersion} · ${b.device ?? 'device not recorded'}${b.oneDnnOpts !== undefined ? ` · TF_ENABLE_ONEDNN_OPTS=${b.oneDnnOpts}` : ''}`;
}
