import type { Rng } from '../../util/rng.ts';
import type { Rgb } from './raster.ts';

/**
 * How a generated scene is drawn, apart from what is in it: the odds of a background other than the
 * generator's own, of anti-aliased edges, and the ranges of each object's shade, colour jitter and
 * size. The published specs draw with SPEC_LOOK; training sets default to RANDOM_LOOK, so that a
 * model learns objects, not one renderer's exact pixels.
 */
export interface Look {
  /** chance of a random uniform background (else the generator's own) */
  otherBackground: number;
  /** chance of anti-aliased edges (else hard edges) */
  antialias: number;
  /** each object's colour is scaled by a shade drawn from [lo, hi] … */
  shade: readonly [number, number];
  /** … then each channel moved by up to ± this much */
  jitter: number;
  /** each object's size is scaled by a factor drawn from [lo, hi] */
  size: readonly [number, number];
}

export const SPEC_LOOK: Look = { otherBackground: 0, antialias: 0, shade: [1, 1], jitter: 0, size: [1, 1] };
export const RANDOM_LOOK: Look = { otherBackground: 0.7, antialias: 0.5, shade: [0.55, 1], jitter: 24, size: [0.7, 1.3] };

/** A background must differ by at least this much in some channel from every object colour. */
export const BACKGROUND_MARGIN = 48;

const uniform = (rng: Rng, [lo, hi]: readonly [number, number]) => lo + rng.next() * (hi - lo);
const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

export function objectColour(rng: Rng, look: Look, base: Rgb): Rgb {
  const shade = uniform(rng, look.shade);
  const [r, g, b] = base.map((c) => clamp(c * shade + (rng.next() * 2 - 1) * look.jitter));
  return [r!, g!, b!];
}

export function objectScale(rng: Rng, look: Look): number {
  return uniform(rng, look.size);
}

export function antialiased(rng: Rng, look: Look): boolean {
  return rng.next() < look.antialias;
}

/** Far enough from every object colour to tell objects from the ground (Chebyshev distance). */
export function standsOut(background: Rgb, colours: readonly Rgb[], margin = BACKGROUND_MARGIN): boolean {
  return colours.every((c) => Math.max(...c.map((v, i) => Math.abs(v - background[i]!))) >= margin);
}

/** The generator's own background, or (with the look's odds) a random colour that stands out from every object. */
export function background(rng: Rng, look: Look, own: Rgb, colours: readonly Rgb[]): Rgb {
  if (rng.next() >= look.otherBackground) return own;
  for (let tries = 0; tries < 100; tries++) {
    // half the draws are greys, which renderers use most (white, light grey, dark)
    const grey = rng.next() < 0.5;
    const v = () => rng.int(0, 256);
    const g = v();
    const candidate: Rgb = grey ? [g, g, g] : [v(), v(), v()];
    if (standsOut(candidate, colours)) return candidate;
  }
  return own;
}
