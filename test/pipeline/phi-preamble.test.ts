/**
 * PHI and the DICOM preamble (docs/reliability.md#b5) on the REAL Temporal dev server and REAL S3,
 * smoke profile, on a site folder of DICOM images built here whose PatientName / PatientID /
 * PatientBirthDate hold strings planted for this test.
 * - A preamble that starts with a Windows executable header ("MZ", e_lfanew, "PE\0\0", the DOS
 *   stub text: a DICOM/PE polyglot) makes `cc2d site add` refuse the folder naming the file, with
 *   nothing stored and no PHI in its output.
 * - With a non-executable preamble carrying a marker instead, `site add` and a run complete, and
 *   neither the planted strings nor the preamble bytes are in the workflow history (raw protobuf
 *   bytes), its search attributes or memo, any stored object of the dataset version, the run or
 *   the site (images are stored re-encoded as PNG, never as the uploaded file), or the HTML report.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineResult } from '../../contracts/types';
import { siteKeys } from '../../infra/storage/keys';
import { cc2dCli } from '../dataset/support/cc2d-cli';
import { buildDicom } from '../dataset/site/support/dicom-fixture';
import { SITE_H, SITE_W, makeSiteFolder, sitePoints, type SiteFolder } from '../dataset/site/support/site-fixture';
import { createHarness, type PipelineHarness } from './support/harness';

const h = await createHarness('phi-preamble');
const unique = randomBytes(4).toString('hex');
const PLANTED = {
  name: `Phiname^Planted${unique}`,
  id: `PHIID${unique.toUpperCase()}`,
  birthDate: '18770913',
};
/** A PE file's first bytes as a preamble: "MZ", e_lfanew = 0x40 at 0x3C, "PE\0\0" at 0x40, then the DOS stub text. */
const DOS_STUB = 'This program cannot be run in DOS mode.';
function pePreamble(): Uint8Array {
  const p = new Uint8Array(128);
  p.set([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xff, 0xff], 0);
  p[0x3c] = 0x40;
  p.set([0x50, 0x45, 0x00, 0x00, 0x4c, 0x01], 0x40);
  p.set(new TextEncoder().encode(DOS_STUB), 0x4e);
  return p;
}
const PE_PREAMBLE = pePreamble();
/** A preamble that is no executable but carries bytes of its own, which must not be stored either. */
const MARKED_PREAMBLE = new TextEncoder().encode(`cc2d-preamble-marker-${unique}`.padEnd(128, '#'));
const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');
/** What must appear nowhere: the planted tag values and runs of both preambles. */
const FORBIDDEN: Array<[string, string]> = [
  ['PatientName', PLANTED.name],
  ['PatientName (family part)', `Planted${unique}`],
  ['PatientID', PLANTED.id],
  ['PatientBirthDate', PLANTED.birthDate],
  ['PE preamble header', latin1(PE_PREAMBLE.subarray(0, 14))],
  ['PE preamble signature', latin1(PE_PREAMBLE.subarray(0x3c, 0x46))],
  ['PE preamble DOS stub', DOS_STUB],
  ['marked preamble', latin1(MARKED_PREAMBLE.subarray(0, 40))],
];
function leaks(text: string): string[] {
  return FORBIDDEN.filter(([, s]) => text.includes(s)).map(([what]) => what);
}

const K = 3;
const IDS = ['001', '002', '003', '004', '005'];
const TEMPLATE = '001';

describe.skipIf(!h)('PHI and the DICOM preamble never reach history, search attributes, storage or the report', () => {
  const H = h as PipelineHarness;
  let site: SiteFolder;
  let datasetVersion: string;
  let runId: string;
  let result: PipelineResult;

  const cli = cc2dCli((h as PipelineHarness | undefined)?.stack.settings.s3.prefix ?? '', 240_000);
  async function writeImages(preamble: Uint8Array): Promise<void> {
    for (const [i, id] of IDS.entries()) {
      await site.write(`images/${id}.dcm`, buildDicom({
        width: SITE_W, height: SITE_H, bitsStored: 12, pixelSpacing: [0.2, 0.2],
        samples: Array.from({ length: SITE_W * SITE_H }, (_, j) => (j * 37 + i * 101) % 4096),
        // One image with the PE preamble is enough to refuse the folder.
        preamble: id === '003' ? preamble : MARKED_PREAMBLE,
        tags: { PatientName: PLANTED.name, PatientID: PLANTED.id, PatientBirthDate: PLANTED.birthDate },
      }));
    }
  }

  beforeAll(async () => {
    site = await makeSiteFolder();
    await site.label(TEMPLATE, sitePoints(K));
    await site.label('002', sitePoints(K, 2));
    await writeImages(PE_PREAMBLE);
    // The fixture really carries what the test looks for.
    const polyglot = latin1(await readFile(`${site.root}/images/003.dcm`));
    expect(leaks(polyglot)).toEqual(FORBIDDEN.filter(([what]) => what !== 'marked preamble').map(([what]) => what));
    expect(leaks(latin1(await readFile(`${site.root}/images/001.dcm`)))).toContain('marked preamble');
  }, 60_000);
  afterAll(async () => {
    await site?.cleanup();
    await H.cleanup();
  });

  it('a DICOM/PE polyglot: site add refuses the folder naming the file; nothing is stored; no PHI in the output', async () => {
    const before = (await H.deps.store.list('')).map((o) => o.key);
    const add = await cli(['site', 'add', H.site, '--dir', site.root, '--template', TEMPLATE, '--json']);
    expect(add.code).toBe(2);
    expect(add.stderr).toMatch(/images\/003\.dcm: the 128-byte preamble is a Windows\/DOS executable \("MZ"\) header/);
    expect(leaks(add.stdout + add.stderr)).toEqual([]);
    expect((await H.deps.store.list('')).map((o) => o.key)).toEqual(before);
  }, 300_000);

  it('site add and a run of the folder with a non-executable preamble complete', async () => {
    await writeImages(MARKED_PREAMBLE);
    const add = await cli(['site', 'add', H.site, '--dir', site.root, '--template', TEMPLATE, '--json']);
    expect(add.code, add.stderr).toBe(0);
    expect(leaks(add.stdout + add.stderr)).toEqual([]);
    datasetVersion = (JSON.parse(add.stdout.trim().split('\n').at(-1)!) as { datasetVersion: string }).datasetVersion;

    await H.workers(['workflows', 'gpu', 'cpu']);
    runId = H.runId('phi');
    // The run ingests the folder itself (the worker decodes the DICOMs) and reuses site add's version.
    result = await (await H.start(H.input({ dataset: { dir: site.root, layout: 'site' }, templateId: TEMPLATE }), runId)).result();
    expect(result.datasetVersion).toBe(datasetVersion);
  }, 420_000);

  it('the workflow history (every byte) and the search attributes and memo hold neither PHI nor the preamble', async () => {
    const handle = H.client.workflow.getHandle(runId);
    const history = latin1(proto.temporal.api.history.v1.History.encode(await handle.fetchHistory()).finish());
    // The scan sees plaintext payloads: the dataset version and the site name are in them.
    expect(history).toContain(datasetVersion);
    expect(history).toContain(H.site);
    expect(leaks(history)).toEqual([]);
    const desc = await handle.describe();
    const visible = JSON.stringify({ sa: desc.searchAttributes, typed: desc.typedSearchAttributes, memo: desc.memo });
    expect(visible).toContain(H.site);
    expect(leaks(visible)).toEqual([]);
  });

  it('no stored object of the dataset version, the run or the site holds them; no stored object is the uploaded file', async () => {
    const store = H.deps.store;
    const keys = [
      ...(await store.list(`datasets/${datasetVersion}/`)),
      ...(await store.list(`runs/${runId}/`)),
      ...(await store.list(`${siteKeys.prefix(H.site)}/`)),
    ].map((o) => o.key);
    expect(keys.some((k) => k.startsWith(`datasets/${datasetVersion}/images/`))).toBe(true);
    expect(keys).toContain(`runs/${runId}/report/report.html`);
    for (const key of keys) {
      const bytes = await store.get(key);
      expect(leaks(latin1(bytes)), key).toEqual([]);
      expect(latin1(bytes.subarray(128, 132)), key).not.toBe('DICM');
      expect(latin1(bytes.subarray(0, 2)), key).not.toBe('MZ');
    }
  });

  it('the HTML report holds neither, and shows the promotion decision', async () => {
    const html = new TextDecoder().decode(await H.deps.store.get(result.artifacts.reportHtml!.key));
    expect(leaks(html)).toEqual([]);
    expect(html).toContain('<section id="promotion">');
    expect(result.promotion?.outcome).toBe('promoted');
    expect(html).toContain('Promoted: this run is now the site’s champion');
  });
});
