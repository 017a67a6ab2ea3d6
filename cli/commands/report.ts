/**
 * `cc2d report RUN --out PATH`: downloads a completed run's self-contained HTML report (checked
 * against the sha256 in the run's lineage manifest) and writes it atomically. PATH is the file;
 * an existing folder, or a path ending in a separator, gets `<folder>/<run>.html`. Missing
 * folders are created; a write that fails exits 2 naming PATH.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { loadStackSettings } from '../../infra/config/stack';
import { UserError } from '../../infra/errors';
import { writeFileAtomically } from '../../infra/exports/write-local';
import { reportHtmlKeyFor, runPrefix, runSegment } from '../../infra/storage/keys';
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

/** The file `--out` names: `out` itself, or `<out>/<run>.html` when `out` is a folder (existing, or ending in a separator). */
export async function reportOutFile(out: string, runId: string): Promise<string> {
  const folder = out.endsWith('/') || out.endsWith(path.sep) || (await stat(out).then((s) => s.isDirectory(), () => false));
  return folder ? path.join(out, `${runSegment(runId)}.html`) : out;
}

/** Writes the report to `file`; a failure is a UserError naming `out` (what the user gave) and the reason, not the temporary file. */
async function writeReport(out: string, file: string, html: Uint8Array): Promise<void> {
  try {
    await writeFileAtomically(file, html);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code !== 'string') throw err;
    // Node's message ends with the syscall and its path, e.g. "EACCES: permission denied, open '/x/.r.html.tmp-1-ab'":
    // keep the reason, and the path only when it is not the temporary file (e.g. a folder that is a file).
    const reason = e.message.replace(/, \w+ '.*'$/s, '');
    const at = e.path !== undefined && !path.basename(e.path).startsWith(`.${path.basename(file)}.tmp-`) ? `: ${e.path}` : '';
    throw new UserError(`--out ${out}: cannot write the report${file === out ? '' : ` to ${file}`} (${reason}${at})`);
  }
}

export function register(program: Command): void {
  program
    .command('report <runId>')
    .description("Download a completed run's self-contained HTML report")
    .requiredOption('--out <path>', 'the HTML file to write; an existing folder (or a path ending in /) gets <folder>/<runId>.html; missing folders are created')
    .action(async (runId: string, opts: { out: string }) => {
      const store = createS3Store(loadStackSettings());
      try {
        const html = await runReportHtml(store, runId);
        const file = await reportOutFile(opts.out, runId);
        await writeReport(opts.out, file, html);
        console.log(`${file} (${html.byteLength} bytes, report of ${runId})`);
      } finally {
        store.destroy();
      }
    });
}
