/**
 * `cc2d report RUN --out FILE`: downloads a completed run's self-contained HTML report (checked
 * against the sha256 in the run's lineage manifest) and writes it atomically.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { loadStackSettings } from '../../infra/config/stack';
import { UserError } from '../../infra/errors';
import { reportHtmlKeyFor, runPrefix } from '../../infra/storage/keys';
import { readManifestFile, readRunManifest } from '../../infra/storage/manifest';
import type { ObjectStore } from '../../infra/storage/object-store';
import { createS3Store } from '../../infra/storage/s3-store';

/** The HTML report bytes of a published run. */
export async function runReportHtml(store: ObjectStore, runId: string): Promise<Uint8Array> {
  const prefix = runPrefix(runId);
  const manifest = await readRunManifest(store, runId);
  const rel = reportHtmlKeyFor(prefix).slice(prefix.length + 1);
  if (!manifest.files.some((f) => f.key === rel)) throw new UserError(`run ${runId}: its manifest lists no HTML report (${rel}); the JSON report is ${String(manifest.meta.reportKey)}`);
  return readManifestFile(store, prefix, manifest, rel);
}

export async function writeFileAtomically(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

export function register(program: Command): void {
  program
    .command('report <runId>')
    .description("Download a completed run's self-contained HTML report")
    .requiredOption('--out <file>', 'where to write the HTML file')
    .action(async (runId: string, opts: { out: string }) => {
      const store = createS3Store(loadStackSettings());
      try {
        const html = await runReportHtml(store, runId);
        await writeFileAtomically(opts.out, html);
        console.log(`${opts.out} (${html.byteLength} bytes, report of ${runId})`);
      } finally {
        store.destroy();
      }
    });
}
