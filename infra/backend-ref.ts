import type { BackendRef } from '../contracts/types';
import type { BackendInfo } from './tf-backend';

/** What a stage records of the backend it computed on; `device` as the worker names it (workers/activity-deps.ts). */
export function backendRefOf(info: BackendInfo, device?: string): BackendRef {
  return {
    backend: info.backend, tfVersion: info.tfVersion, tfjsVersion: info.tfjsVersion,
    ...(device !== undefined ? { device } : {}),
    ...(info.oneDnnOpts !== undefined ? { oneDnnOpts: info.oneDnnOpts } : {}),
  };
}

/** A recorded backend as people read it (report lineage, logs): "tensorflow · TensorFlow 2.21.0 · TF.js 4.22.0 · CPU · TF_ENABLE_ONEDNN_OPTS=1". */
export function describeBackendRef(b: BackendRef): string {
  return `${b.backend} · TensorFlow ${b.tfVersion} · TF.js ${b.tfjsVersion} · ${b.device ?? 'device not recorded'}${b.oneDnnOpts !== undefined ? ` · TF_ENABLE_ONEDNN_OPTS=${b.oneDnnOpts}` : ''}`;
}
