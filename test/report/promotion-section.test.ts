/**
 * The run report's Promotion section: the gate's decision (promoted / kept / skipped), its reason,
 * the champion compared against and both MREs on the same evaluation images, escaped.
 */
import { describe, expect, it } from 'vitest';
import { renderRunReport } from '../../infra/report';
import { syntheticReportInput } from './fixture';

function section(html: string): string {
  const start = html.indexOf('<section id="promotion">');
  expect(start).toBeGreaterThan(-1);
  return html.slice(start, html.indexOf('</section>', start));
}

describe('run report: promotion', () => {
  it('a kept run: the reason, the champion compared against and both MREs on the same images', async () => {
    const html = await renderRunReport(await syntheticReportInput({
      promotion: {
        site: 'clinic-a', outcome: 'kept', reason: 'MRE 2.50 mm does not beat champion cc2d-old (2.10 mm) on 12 images',
        championBefore: 'cc2d-old', candidateMre: 2.5, championMre: 2.1, comparedImages: 12, decidedAt: '2026-11-30T15:00:00.000Z',
      },
    }));
    const s = section(html);
    expect(s).toContain('Kept: the site’s champion is unchanged');
    expect(s).toContain('does not beat champion cc2d-old');
    expect(s).toContain('<code>cc2d-old</code>');
    expect(s).toMatch(/MRE of this run<\/th><td>2\.50 mm/);
    expect(s).toMatch(/MRE of the champion<\/th><td>2\.10 mm/);
    expect(s).toContain('12 (protocol A, the ids both runs scored)');
    expect(s).toContain('2026-11-30T15:00:00.000Z');
    expect(html).toContain('<a href="#promotion">Promotion</a>');
  });

  it('a first champion, and a run without metrics', async () => {
    const first = section(await renderRunReport(await syntheticReportInput({
      promotion: { site: 's', outcome: 'promoted', reason: 'first champion of the site', candidateMre: 3 },
    })));
    expect(first).toContain('Promoted: this run is now the site’s champion');
    expect(first).toContain('no champion yet');
    expect(first).not.toContain('MRE of the champion');
    const skipped = section(await renderRunReport(await syntheticReportInput({
      promotion: { site: 's', outcome: 'skipped', reason: 'no metrics: never promoted automatically' },
    })));
    expect(skipped).toContain('Skipped: not promoted automatically');
  });

  it('escapes every field (the reason and run ids come from storage)', async () => {
    const html = await renderRunReport(await syntheticReportInput({
      promotion: { site: 's', outcome: 'kept', reason: '<img src=x onerror=alert(1)> & "quoted"', championBefore: '<script>x</script>' },
    }));
    const s = section(html);
    expect(s).not.toContain('<img src=x');
    expect(s).not.toContain('<script>x');
    expect(s).toContain('&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot;');
    expect(s).toContain('&lt;script&gt;x&lt;/script&gt;');
  });

  it('no section when the gate did not run in the report stage', async () => {
    const html = await renderRunReport(await syntheticReportInput());
    expect(html).not.toContain('id="promotion"');
    expect(html).not.toContain('href="#promotion"');
  });
});
