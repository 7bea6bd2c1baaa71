import type { Rng } from '../../util/rng.ts';
import { degrade } from './degrade.ts';
import { antialiased, background, objectColour, objectScale, type Look } from './look.ts';
import { Canvas, type Rgb, type ShapeKind } from './raster.ts';
import { imageRng } from './seed.ts';
import type { SceneStyle } from './types.ts';

/** What a generator draws: the shapes and colours its questions have words for. */
export interface Vocabulary {
  shapes: readonly ShapeKind[];
  /** whether it draws outlined (hollow) objects */
  outlines: boolean;
  palette: readonly Rgb[];
  /** an object's half-extent, as a share of the image's side */
  radius: number;
}

const RASTER_SHAPES: readonly ShapeKind[] = ['circle', 'square', 'triangle'];
/** An off-palette colour differs by at least this much in some channel from every shade of every palette colour. */
const COLOUR_MARGIN = 48;

/**
 * A scene the generator never draws, for the familiarity check's outlier exposure
 * (train/fit_familiarity.ts): 1–8 objects drawn in the set's style (its look and degradations), at
 * least one of them a shape or outline it has no word for, or a colour off its palette. Index and
 * seed fix the scene.
 */
export async function unfamiliarScene(vocab: Vocabulary, style: SceneStyle, imageSize: number, seed: number, index: number): Promise<Uint8Array> {
  const look = style.look;
  const rng = imageRng(seed, 'unfamiliar', index);
  const unknownShapes = RASTER_SHAPES.filter((s) => !vocab.shapes.includes(s));
  const canDrawUnknownShape = unknownShapes.length > 0 || !vocab.outlines;
  const count = rng.int(1, 9);
  const odd = rng.int(0, count);
  const objects = Array.from({ length: count }, (_, k) => {
    const oddShape = canDrawUnknownShape && (k === odd ? rng.next() < 0.67 : rng.next() < 0.3);
    const oddColour = k === odd ? !oddShape || rng.next() < 0.3 : rng.next() < 0.2;
    let shape = rng.pick(vocab.shapes);
    let ring = 0;
    if (oddShape) {
      if (unknownShapes.length > 0 && (vocab.outlines || rng.next() < 0.5)) shape = rng.pick(unknownShapes);
      else {
        shape = rng.pick(RASTER_SHAPES);
        ring = rng.int(1, 3);
      }
    }
    const colour = oddColour ? offPalette(rng, look, vocab.palette) : objectColour(rng, look, rng.pick(vocab.palette));
    return { shape, ring, colour };
  });
  const canvas = new Canvas(
    imageSize,
    background(
      rng,
      look,
      [255, 255, 255],
      objects.map((o) => o.colour),
    ),
  );
  const aa = antialiased(rng, look);
  const r = vocab.radius * imageSize;
  const margin = r + 1;
  for (const o of objects) {
    const size = r * objectScale(rng, look) * (rng.next() < 0.3 ? 0.6 + rng.next() : 1);
    canvas.draw(o.shape, margin + rng.next() * (imageSize - 2 * margin), margin + rng.next() * (imageSize - 2 * margin), size, o.colour, o.ring, aa);
  }
  return degrade(canvas.pixels, imageSize, style.degradation(rng), rng);
}

function offPalette(rng: Rng, look: Look, palette: readonly Rgb[]): Rgb {
  for (let tries = 0; tries < 1000; tries++) {
    const c: Rgb = [rng.int(0, 256), rng.int(0, 256), rng.int(0, 256)];
    if (palette.every((p) => !nearSomeShade(c, p, look))) return c;
  }
  throw new Error('the palette leaves no colour off it');
}

/** Within the margin of the palette colour at some shade the look draws. */
function nearSomeShade(c: Rgb, p: Rgb, look: Look): boolean {
  const [lo, hi] = look.shade;
  for (let s = lo; s <= hi + 1e-9; s += 0.05) if (Math.max(...c.map((v, i) => Math.abs(v - s * p[i]!))) < COLOUR_MARGIN) return true;
  return false;
}
