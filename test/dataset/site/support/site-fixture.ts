/**
 * TEST-ONLY site folders in a tmp dir: synthetic grey PNGs under images/, CSV landmark files
 * under landmarks/ with K named landmarks, optional DICOM images (./dicom-fixture).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { NamedPoint } from '../../../../infra/dataset/site/types';
import { encodeImage } from '../../support/fixtures';
import { buildDicom } from './dicom-fixture';

export const SITE_W = 40;
export const SITE_H = 50;

/** K landmarks named L1..LK (or the given names), spread inside a SITE_W × SITE_H image; `shift` moves them. */
export function sitePoints(k: number, shift = 0): NamedPoint[] {
  return Array.from({ length: k }, (_, i) => ({ name: `L${i + 1}`, x: ((i * 7 + 3 + shift) % (SITE_W - 1)) + 0.5, y: ((i * 11 + 5 + shift) % (SITE_H - 1)) + 0.25 }));
}

export function landmarkCsv(points: readonly NamedPoint[]): string {
  return ['name,x,y', ...points.map((p) => `${p.name},${p.x},${p.y}`)].join('\n') + '\n';
}

export interface SiteFolder {
  root: string;
  write(rel: string, content: string | Uint8Array): Promise<void>;
  /** A synthetic PNG image `images/<sub>/<id>.png`. */
  addPng(id: string, sub?: string): Promise<void>;
  /** A 16-bit DICOM image `images/<id>.dcm` with the given PixelSpacing (none: no tag). */
  addDicom(id: string, pixelSpacing?: number): Promise<void>;
  /** `landmarks/<id>.csv`. */
  label(id: string, points: readonly NamedPoint[]): Promise<void>;
  cleanup(): Promise<void>;
}

export async function makeSiteFolder(): Promise<SiteFolder> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'cc2d-site-'));
  const root = path.join(base, 'site');
  const write = async (rel: string, content: string | Uint8Array): Promise<void> => {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), content);
  };
  let seed = 0;
  return {
    root,
    write,
    addPng: async (id, sub = '') => write(path.join('images', sub, `${id}.png`), await encodeImage('png', SITE_W, SITE_H, seed++)),
    addDicom: async (id, pixelSpacing) =>
      write(
        `images/${id}.dcm`,
        buildDicom({
          width: SITE_W,
          height: SITE_H,
          samples: Array.from({ length: SITE_W * SITE_H }, (_, i) => (i * 37 + seed++) % 4096),
          bitsStored: 12,
          ...(pixelSpacing !== undefined ? { pixelSpacing: [pixelSpacing, pixelSpacing] } : {}),
        }),
      ),
    label: async (id, points) => write(`landmarks/${id}.csv`, landmarkCsv(points)),
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}

/** A flat site: `n` PNGs 001..n, the template `001` labelled with K landmarks, plus `labelled` more labelled ids. */
export async function makeFlatSite(n: number, k: number, labelled: readonly string[] = []): Promise<SiteFolder> {
  const site = await makeSiteFolder();
  for (let i = 1; i <= n; i++) await site.addPng(String(i).padStart(3, '0'), i % 2 === 0 ? 'sub' : '');
  await site.label('001', sitePoints(k));
  for (const id of labelled) await site.label(id, sitePoints(k, 2));
  return site;
}
