/**
 * `cc2d report <run> --out PATH` as a subprocess against the real S3 server (this test's own key
 * prefix; the run is a published manifest with just its HTML report): missing folders are
 * created, an existing folder or a path ending in `/` gets `<folder>/<run>.html`, and a path that
 * cannot be written exits 2 naming the path given, not a temporary file. Skips locally without
 * S3; fails under CI.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportHtmlKeyFor, runPrefix } from '../../infra/storage/keys';
import { publishWithManifest } from '../../infra/storage/manifest';
import { cc2dCli } from '../dataset/support/cc2d-cli';
import { requireStack } from '../support/stack';

const stack = await requireStack('cli-report-out');
const cc2d = cc2dCli(stack?.settings.s3.prefix ?? '');
const runId = 'cc2d-report-out-run';
const html = new TextEncoder().encode('<!doctype html><title>report of cc2d-report-out-run</title>\n');
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cc2d-report-out-'));
  if (!stack) return;
  const prefix = runPrefix(runId);
  await publishWithManifest(stack.store, prefix, [{ relKey: reportHtmlKeyFor(prefix).slice(prefix.length + 1), bytes: html, contentType: 'text/html' }], { runId });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
  await stack?.cleanup();
});

describe.skipIf(!stack)('cc2d report --out', () => {
  it('creates missing parent folders and leaves no temporary file', async () => {
    const out = path.join(tmp, 'new', 'sub', 'r.html');
    const r = await cc2d(['report', runId, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(out)).toEqual(Buffer.from(html));
    expect(await readdir(path.dirname(out))).toEqual(['r.html']);
    expect(r.stdout).toContain(out);
  });

  it('writes <folder>/<run>.html into an existing folder, or a missing one given with a trailing /', async () => {
    const folder = path.join(tmp, 'existing');
    expect((await cc2d(['report', runId, '--out', path.join(tmp, 'existing', 'keep.txt')])).code).toBe(0);
    const into = await cc2d(['report', runId, '--out', folder]);
    expect(into.code, into.stderr).toBe(0);
    expect(await readFile(path.join(folder, `${runId}.html`))).toEqual(Buffer.from(html));
    expect(into.stdout).toContain(path.join(folder, `${runId}.html`));

    const fresh = `${path.join(tmp, 'fresh', 'reports')}/`;
    const made = await cc2d(['report', runId, '--out', fresh]);
    expect(made.code, made.stderr).toBe(0);
    expect(await readFile(path.join(fresh, `${runId}.html`))).toEqual(Buffer.from(html));
  });

  it('a path it cannot write: one line naming that path and why, exit 2', async () => {
    const file = path.join(tmp, 'plain.txt');
    await writeFile(file, 'not a folder');
    const out = path.join(file, 'r.html');
    const r = await cc2d(['report', runId, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`cc2d: --out ${out}: cannot write the report (EEXIST: file already exists: ${file})`]);
    expect(r.stderr).not.toContain('.tmp-');

    // <folder>/<run>.html is itself a folder: the rename fails; the message names it, not the temporary file.
    const clash = path.join(tmp, 'clash');
    await mkdir(path.join(clash, `${runId}.html`), { recursive: true });
    const c = await cc2d(['report', runId, '--out', clash]);
    expect(c.code).toBe(2);
    expect(c.stderr.trim().split('\n')).toEqual([`cc2d: --out ${clash}: cannot write the report to ${path.join(clash, `${runId}.html`)} (EISDIR: illegal operation on a directory)`]);
    expect(await readdir(clash)).toEqual([`${runId}.html`]);
  });
});
