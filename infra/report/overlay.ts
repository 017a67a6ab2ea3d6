/**
 * Overlays of predicted vs ground-truth landmarks on a radiograph, rendered with sharp: the
 * image is resized to the original aspect ratio (a square working image is un-squashed) at most
 * `maxHeightPx` high, an SVG of ground-truth circles, prediction crosses and error lines (crosses
 * alone, numbered, for an image without ground truth) is
 * composited on it, and the result is a JPEG data: URI for the self-contained report.
 */
import sharp from 'sharp';
import type { Overlay } from './types';

/** Decoded-pixel cap (docs/reliability.md#b2): well above 1935×2400, far below a decompression bomb. */
const LIMIT_INPUT_PIXELS = 50_000_000;

export interface OverlayRender {
  dataUri: string;
  width: number;
  height: number;
  bytes: number;
}

export const OVERLAY_COLORS = { truth: '#22c55e', predicted: '#ef4444', error: '#facc15' } as const;

/** The SVG drawn over an image of `width`×`height` for `overlay`'s points. */
export function overlaySvg(overlay: Pick<Overlay, 'grid' | 'predictedYx' | 'truthYx'>, width: number, height: number): string {
  const ky = height / overlay.grid.height;
  const kx = width / overlay.grid.width;
  // Points are cells of the grid: draw at the cell centre.
  const at = ([y, x]: readonly [number, number]): [number, number] => [(x + 0.5) * kx, (y + 0.5) * ky];
  const r = Math.max(3, Math.round(height / 140));
  const sw = Math.max(1.5, height / 400);
  const font = Math.max(9, Math.round(height / 55));
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`];
  const label = (x: number, y: number, k: number, color: string) =>
    `<text x="${(x + r + 2).toFixed(1)}" y="${(y - r).toFixed(1)}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="${color}" stroke="#000" stroke-width="0.4">${k + 1}</text>`;
  overlay.predictedYx.forEach((p, k) => {
    const t = overlay.truthYx[k];
    const [px, py] = at(p);
    if (t) {
      const [gx, gy] = at(t);
      parts.push(`<line x1="${gx.toFixed(1)}" y1="${gy.toFixed(1)}" x2="${px.toFixed(1)}" y2="${py.toFixed(1)}" stroke="${OVERLAY_COLORS.error}" stroke-width="${sw.toFixed(1)}"/>`);
      parts.push(`<circle cx="${gx.toFixed(1)}" cy="${gy.toFixed(1)}" r="${r}" fill="none" stroke="${OVERLAY_COLORS.truth}" stroke-width="${sw.toFixed(1)}"/>`);
    }
    const d = r * 0.9;
    parts.push(
      `<path d="M${(px - d).toFixed(1)} ${(py - d).toFixed(1)}L${(px + d).toFixed(1)} ${(py + d).toFixed(1)}M${(px - d).toFixed(1)} ${(py + d).toFixed(1)}L${(px + d).toFixed(1)} ${(py - d).toFixed(1)}" stroke="${OVERLAY_COLORS.predicted}" stroke-width="${sw.toFixed(1)}"/>`,
    );
    // Numbered at the ground truth when there is one, else at the prediction.
    parts.push(t ? label(...at(t), k, OVERLAY_COLORS.truth) : label(px, py, k, OVERLAY_COLORS.predicted));
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Renders one overlay as a JPEG data: URI, at most `maxHeightPx` high. */
export async function renderOverlay(overlay: Overlay, maxHeightPx = 480, quality = 80): Promise<OverlayRender> {
  const meta = await sharp(overlay.image, { limitInputPixels: LIMIT_INPUT_PIXELS }).metadata();
  const srcH = meta.height ?? maxHeightPx;
  // Never upscale far beyond the source: a 384 working image is shown at ≤ 560 px.
  const height = Math.max(64, Math.min(maxHeightPx, Math.round(Math.max(srcH, 256) * 1.5)));
  const width = Math.max(16, Math.round(height * overlay.displayAspect));
  const svg = Buffer.from(overlaySvg(overlay, width, height));
  const out = await sharp(overlay.image, { limitInputPixels: LIMIT_INPUT_PIXELS })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .toColourspace('srgb')
    .composite([{ input: svg, top: 0, left: 0 }])
    .flatten({ background: '#000000' })
    .jpeg({ quality, chromaSubsampling: '4:2:0' })
    .toBuffer();
  return { dataUri: `data:image/jpeg;base64,${out.toString('base64')}`, width, height, bytes: out.byteLength };
}
