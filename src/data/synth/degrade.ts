import sharp from 'sharp';
import type { Rng } from '../../util/rng.ts';

/**
 * What happens to an image between a renderer and the model: lossy JPEG, storage at another size
 * (resized back by the loader), blur and sensor noise. Applied in this order; absent = untouched.
 */
export interface Degradation {
  /** JPEG quality 1–100 */
  jpeg?: number;
  /** stored at size × scale, then resized back (bilinear) */
  scale?: number;
  /** Gaussian blur sigma in pixels (≥ 0.3) */
  blur?: number;
  /** Gaussian pixel noise, standard deviation in 0–255 units */
  noise?: number;
}

/** The training mix: each degradation on about a third of the images, so that most stay clean or lightly touched. */
export function randomDegradation(rng: Rng): Degradation {
  const d: Degradation = {};
  if (rng.next() < 0.35) d.scale = rng.next() < 0.5 ? 0.5 + rng.next() * 0.5 : 1 + rng.next();
  if (rng.next() < 0.15) d.blur = 0.3 + rng.next() * 0.7;
  if (rng.next() < 0.35) d.jpeg = rng.int(40, 96);
  if (rng.next() < 0.3) d.noise = rng.next() * 8;
  return d;
}

/** A degraded copy of `pixels` (size × size RGB); `rng` draws the noise. */
export async function degrade(pixels: Uint8Array, size: number, d: Degradation, rng: Rng): Promise<Uint8Array> {
  let out = pixels;
  const raw = { raw: { width: size, height: size, channels: 3 as const } };
  if (d.scale !== undefined && d.scale !== 1) {
    const stored = Math.max(4, Math.round(size * d.scale));
    const small = await sharp(out, raw).resize(stored, stored, { kernel: 'linear' }).raw().toBuffer();
    out = new Uint8Array(
      await sharp(small, { raw: { width: stored, height: stored, channels: 3 } })
        .resize(size, size, { kernel: 'linear' })
        .raw()
        .toBuffer(),
    );
  }
  if (d.blur !== undefined) out = new Uint8Array(await sharp(out, raw).blur(Math.max(0.3, d.blur)).raw().toBuffer());
  if (d.jpeg !== undefined) {
    const jpeg = await sharp(out, raw).jpeg({ quality: d.jpeg }).toBuffer();
    out = new Uint8Array(await sharp(jpeg).removeAlpha().raw().toBuffer());
  }
  if (d.noise !== undefined && d.noise > 0) {
    out = Uint8Array.from(out);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(out[i]! + gaussian(rng) * d.noise)));
  }
  return out;
}

function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}
