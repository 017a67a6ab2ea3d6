/**
 * `cc2d site add|list|show` as subprocesses against the real S3 server (this test's own key
 * prefix), and the run wiring: a registered site fills the run config and passes preflight with
 * only its template labelled. Skips locally without S3; fails under CI.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { registeredSiteDefaults } from '../../cli/commands/site';
import { preflight } from '../../cli/pipeline-client';
import { loadRunConfig } from '../../infra/config/run-config';
import { siteRecordKey } from '../../infra/sites/registry';
import { makeFlatSite, makeSiteFolder, sitePoints, type SiteFolder } from '../dataset/site/support/site-fixture';
import { requireStack } from '../support/stack';
import { cc2dCli } from '../dataset/support/cc2d-cli';

const stack = await requireStack('cli-site');
const folders: SiteFolder[] = [];
afterAll(async () => {
  await Promise.all(folders.map((f) => f.cleanup()));
  await stack?.cleanup();
});

const cc2d = cc2dCli(stack?.settings.s3.prefix ?? '');

function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe.skipIf(!stack)('cc2d site', () => {
  it('add publishes and records the site (JSON last line), reuses an unchanged folder, makes a new version after adding an image; list and show read the record', async () => {
    const site = await makeFlatSite(6, 5, ['004', '005']);
    folders.push(site);
    const first = await cc2d(['site', 'add', 'clinic-a', '--dir', site.root, '--template', '001', '--size', '32', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const added = lastJson(first.stdout);
    expect(added).toMatchObject({ site: 'clinic-a', images: 6, labelled: 3, landmarks: 5, spacing: 'unknown', reused: false, evaluation: 2, templateId: '001' });
    expect(added.datasetVersion).toMatch(/^[0-9a-f]{64}$/);
    expect(await stack!.store.exists(`datasets/${String(added.datasetVersion)}/manifest.json`)).toBe(true);
    expect(await stack!.store.exists(siteRecordKey('clinic-a'))).toBe(true);

    const again = lastJson((await cc2d(['site', 'add', 'clinic-a', '--dir', site.root, '--template', '001', '--size', '32', '--json'])).stdout);
    expect(again).toMatchObject({ datasetVersion: added.datasetVersion, reused: true });

    await site.addPng('007');
    const grown = lastJson((await cc2d(['site', 'add', 'clinic-a', '--dir', site.root, '--template', '001', '--size', '32', '--spacing', '0.2', '--json'])).stdout);
    expect(grown).toMatchObject({ images: 7, reused: false, spacing: 'fixed', spacingMm: 0.2 });
    expect(grown.datasetVersion).not.toBe(added.datasetVersion);

    const shown = await cc2d(['site', 'show', 'clinic-a', '--json']);
    expect(lastJson(shown.stdout)).toMatchObject({ site: 'clinic-a', datasetVersion: grown.datasetVersion, images: 7, landmarks: 5, dir: site.root });
    const listed = JSON.parse((await cc2d(['site', 'list', '--json'])).stdout.trim().split('\n').at(-1)!) as Array<{ site: string }>;
    expect(listed.map((s) => s.site)).toEqual(['clinic-a']);
    const unknown = await cc2d(['site', 'show', 'nobody']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/site nobody is not registered/);
    // models list tells a typo from a registered site without a champion yet.
    expect((await cc2d(['models', 'list', '--site', 'nobody'])).stdout).toMatch(/site nobody has no champion \(nor is it a registered site/);
    expect((await cc2d(['models', 'list', '--site', 'clinic-a'])).stdout.trim()).toBe('site clinic-a has no champion');

    // run --site: the record fills folder, layout, template and spacing; eval is the test split.
    const config = await loadRunConfig({ site: 'clinic-a', profile: 'smoke' }, {}, (named) => registeredSiteDefaults(stack!.settings, named));
    expect(config).toMatchObject({ site: 'clinic-a', templateId: '001', dataset: { dir: site.root, layout: 'site', pixelSpacingMm: 0.2 }, split: { testSplits: ['eval'] } });
    await expect(preflight(config, stack!.settings)).resolves.toBeDefined();
    // Flags still win.
    expect((await loadRunConfig({ site: 'clinic-a', template: '002' }, {}, (named) => registeredSiteDefaults(stack!.settings, named))).templateId).toBe('002');
    // An unregistered site contributes nothing, and without a dataset of its own it is an error, not
    // a run on the ISBI default (which would become that site's first champion).
    expect(await registeredSiteDefaults(stack!.settings, 'elsewhere')).toEqual({});
    await expect(loadRunConfig({ site: 'elsewhere', profile: 'smoke' }, {})).rejects.toThrow(/config\.site: site "elsewhere" is not registered and no dataset was given/);
    await expect(loadRunConfig({ profile: 'smoke' }, { CC2D_SITE: 'clinic-b' })).rejects.toThrow(/site "clinic-b" is not registered/);
    // A registered site named through CC2D_SITE (or a config file) supplies its folder as through --site.
    const env = { CC2D_SITE: 'clinic-a' };
    const siteDefaults = (named: string | undefined) => registeredSiteDefaults(stack!.settings, named);
    const viaEnv = await loadRunConfig({ profile: 'smoke' }, env, siteDefaults);
    expect(viaEnv).toMatchObject({ site: 'clinic-a', templateId: '001', dataset: { dir: site.root, layout: 'site' } });
    const siteFile = path.join(site.root, '..', `site-${path.basename(site.root)}.yaml`);
    await writeFile(siteFile, 'site: clinic-a\nprofile: smoke\n');
    try {
      expect(await loadRunConfig({ config: siteFile }, {}, siteDefaults)).toMatchObject({ site: 'clinic-a', dataset: { dir: site.root, layout: 'site' } });
      // --site names the site over CC2D_SITE and the file: its defaults (none, unregistered) are the ones asked for.
      const asked: Array<string | undefined> = [];
      await expect(loadRunConfig({ config: siteFile, site: 'other' }, env, async (named) => (asked.push(named), {}))).rejects.toThrow(/site "other" is not registered/);
      expect(asked).toEqual(['other']);
      // CC2D_SITE over the file's site; an empty CC2D_SITE is unset, and the file's site is asked for.
      await loadRunConfig({ config: siteFile }, { CC2D_SITE: 'from-env' }, async (named) => (asked.push(named), {})).catch(() => undefined);
      await loadRunConfig({ config: siteFile }, { CC2D_SITE: '' }, async (named) => (asked.push(named), {})).catch(() => undefined);
      expect(asked).toEqual(['other', 'from-env', 'clinic-a']);
    } finally {
      await rm(siteFile, { force: true });
    }
    const typo = await cc2d(['run', '--site', 'clinic-aa', '--profile', 'smoke', '--workers', 'none']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/site "clinic-aa" is not registered and no dataset was given: add it \(cc2d site add clinic-aa --dir DIR --template ID\)/);
  });

  it('remove retires a site: out of list and show, its dataset version kept; an unknown site exits 2', async () => {
    const site = await makeFlatSite(3, 1);
    folders.push(site);
    const added = await cc2d(['site', 'add', 'retired', '--dir', site.root, '--template', '001', '--size', '64', '--json']);
    expect(added.code, added.stderr).toBe(0);
    const version = String(lastJson(added.stdout).datasetVersion);
    const removed = await cc2d(['site', 'remove', 'retired', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(lastJson(removed.stdout)).toMatchObject({ site: 'retired', datasetVersion: version });
    expect((await cc2d(['site', 'show', 'retired'])).code).toBe(2);
    const listed = JSON.parse((await cc2d(['site', 'list', '--json'])).stdout.trim().split('\n').at(-1)!) as Array<{ site: string }>;
    expect(listed.map((x) => x.site)).not.toContain('retired');
    expect(await stack!.store.list(`datasets/${version}/`)).not.toEqual([]);
    const again = await cc2d(['site', 'remove', 'retired']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/site retired is not registered/);
  });

  it('a site with only its template labelled passes preflight (no test labels needed)', async () => {
    const site = await makeFlatSite(3, 1);
    folders.push(site);
    const config = await loadRunConfig({ site: 'solo', dataset: site.root, template: '001' }, {});
    expect(config).toMatchObject({ dataset: { layout: 'site' }, split: { testSplits: ['eval'] } });
    await expect(preflight(config, stack!.settings)).resolves.toBeDefined();
    await expect(loadRunConfig({ dataset: site.root }, {})).rejects.toThrow(/config\.templateId: required for a site dataset/);
  });

  it('exits 2 naming every file and problem; nothing under datasets/ and no record', async () => {
    const { store } = stack!;
    const before = (await store.list('datasets/')).length;

    const dicom = await makeSiteFolder();
    folders.push(dicom);
    await dicom.addDicom('d1', 0.125);
    await dicom.addDicom('d2');
    await dicom.label('d1', sitePoints(3));
    const bad = await cc2d(['site', 'add', 'bad-dicom', '--dir', dicom.root, '--template', 'd1', '--size', '32']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/images\/d2\.dcm: no pixel spacing: neither \(0028,0030\) PixelSpacing nor \(0018,1164\) ImagerPixelSpacing/);

    const names = await makeFlatSite(3, 3);
    folders.push(names);
    await names.label('002', [...sitePoints(2), { name: 'Other', x: 1, y: 1 }]);
    const renamed = await cc2d(['site', 'add', 'bad-names', '--dir', names.root, '--template', '001', '--size', '32']);
    expect(renamed.code).toBe(2);
    expect(renamed.stderr).toMatch(/landmarks\/002\.csv: landmark names differ from the template's/);

    const missing = await cc2d(['site', 'add', 'no-template', '--dir', names.root, '--template', '003', '--size', '32']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/template image 003 has no landmark file/);

    expect((await store.list('datasets/')).length).toBe(before);
    expect((await store.list('sites/')).map((o) => o.key).filter((k) => /bad-|no-template/.test(k))).toEqual([]);
  });
});
