/** A finished run's stored artifacts as the profiling scripts read them (from its lineage manifest). */
import type { ObjectStore } from '../../infra/storage/object-store';
import type { PointYX } from '../../ml/types';

export interface RunArtifactKeys {
  /** Every artifact key of the run, absolute. */
  keys: string[];
  /** Every train id's pseudo-label, the template's own included. */
  pseudoLabels: Map<string, PointYX[]>;
}

export async function loadRunArtifacts(store: ObjectStore, runId: string): Promise<RunArtifactKeys> {
  const text = async (key: string) => new TextDecoder().decode(await store.get(key));
  const manifest = JSON.parse(await text(`runs/${runId}/manifest.json`));
  const files: Array<{ key: string }> = manifest.files ?? manifest.artifacts ?? [];
  const keys = files.map((f) => (f.key.startsWith('runs/') ? f.key : `runs/${runId}/${f.key}`));
  const pseudoLabels = new Map<string, PointYX[]>();
  for (const key of keys.filter((k) => /pseudo-labels\/shard/.test(k))) {
    for (const [id, pts] of Object.entries(JSON.parse(await text(key)).labels as Record<string, PointYX[]>)) pseudoLabels.set(id, pts);
  }
  return { keys, pseudoLabels };
}
