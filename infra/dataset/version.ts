/**
 * Content-addressed dataset version ids. The id is the sha256 (hex) of a canonical JSON document
 * holding INGEST_FORMAT_VERSION, the ingestion parameters that change published bytes (sizes,
 * pixel spacing) and the sorted (relative path, sha256) list of every source file. Identical input
 * therefore gives an identical id; any changed byte, file, size or spacing gives a new one.
 * A site folder's import adds its template and `--spacing` (the ISBI document is unchanged).
 * The site name is deliberately NOT part of it: the same data ingested at two sites is one version.
 */
import { sha256Hex } from '../storage/hash';
import { INGEST_FORMAT_VERSION } from './types';

export interface SourceFileHash {
  relPath: string;
  sha256: string;
}

export interface VersionParams {
  sizes: readonly number[];
  /** ISBI importer: the spacing of every image. */
  pixelSpacingMm?: number;
  /** Site importer: the template (it defines the landmark set and the splits; null: none yet) and `--spacing` (null: none). */
  site?: { templateId: string | null; spacingMm: number | null };
}

export function canonicalVersionDocument(files: readonly SourceFileHash[], params: VersionParams): string {
  const sorted = [...files].sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
  return JSON.stringify({
    format: INGEST_FORMAT_VERSION,
    params: {
      sizes: [...new Set(params.sizes)].sort((a, b) => a - b),
      ...(params.pixelSpacingMm !== undefined ? { pixelSpacingMm: params.pixelSpacingMm } : {}),
      ...(params.site !== undefined ? { kind: 'site', templateId: params.site.templateId, spacingMm: params.site.spacingMm } : {}),
    },
    files: sorted.map((f) => [f.relPath, f.sha256]),
  });
}

export function computeVersionId(files: readonly SourceFileHash[], params: VersionParams): string {
  return sha256Hex(canonicalVersionDocument(files, params));
}
