/** What the activities close over (dependency injection: no module-level clients); built by the workers. */
import type { ObjectStore } from '../infra/storage/object-store';
import type { ProgressOptions } from './progress';
import type { BackendRef } from '../contracts/types';

export interface ActivityDeps {
  store: ObjectStore;
  /** The TF backend active in this worker (initBackend() runs before activities are created). */
  backend: () => BackendRef;
  /** git sha of the worker's code, or the package version when git is unavailable. */
  codeVersion: string;
  progress?: ProgressOptions;
  /** Test seam: runs after a pseudo-label shard is matched, before it is stored; a throw fails that attempt. */
  beforeShardPublish?: (shard: { shardIndex: number; attempt: number }) => void;
}
