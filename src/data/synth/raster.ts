/**
 * A tiny RGB rasteriser. Hard edges fill the pixels whose centre lies inside a shape; anti-aliased
 * edges blend each pixel by the share of a 4×4 grid of samples inside it.
 */
export type Rgb = readonly [number, number, number];
export type ShapeKind = 'circle' | 'square' | 'triangle';

export class Canvas {
  readonly pixels: Uint8Array;

  constructor(
    readonly size: number,
    background: Rgb,
  ) {
    this.pixels = new Uint8Array(size * size * 3);
    for (let i = 0; i < size * size; i++) this.pixels.set(background, i * 3);
  }

  /** Draws a shape centred at (cx, cy) with half-extent r; `ring` > 0 draws only an outline that wide. */
  draw(shape: ShapeKind, cx: number, cy: number, r: number, colour: Rgb, ring = 0, antialias = false): void {
    const lo = (v: number) => Math.max(0, Math.floor(v - r - 1));
    const hi = (v: number) => Math.min(this.size - 1, Math.ceil(v + r + 1));
    const covered = (px: number, py: number) => inside(shape, px, py, r) && !(ring > 0 && inside(shape, px, py, r - ring));
    for (let y = lo(cy); y <= hi(cy); y++) {
      for (let x = lo(cx); x <= hi(cx); x++) {
        const at = (y * this.size + x) * 3;
        if (!antialias) {
          if (covered(x + 0.5 - cx, y + 0.5 - cy)) this.pixels.set(colour, at);
          continue;
        }
        let hits = 0;
        for (let sy = 0; sy < SUBSAMPLES; sy++) {
          for (let sx = 0; sx < SUBSAMPLES; sx++) if (covered(x + (sx + 0.5) / SUBSAMPLES - cx, y + (sy + 0.5) / SUBSAMPLES - cy)) hits++;
        }
        const a = hits / SUBSAMPLES ** 2;
        for (let c = 0; c < 3; c++) this.pixels[at + c] = Math.round(a * colour[c]! + (1 - a) * this.pixels[at + c]!);
      }
    }
  }
}

const SUBSAMPLES = 4;

function inside(shape: ShapeKind, px: number, py: number, r: number): boolean {
  if (r <= 0) return false;
  switch (shape) {
    case 'circle':
      return px * px + py * py <= r * r;
    case 'square':
      return Math.abs(px) <= r && Math.abs(py) <= r;
    case 'triangle': {
      // upward triangle with apex at (0, -r) and base at y = +r
      if (py < -r || py > r) return false;
      const halfWidth = (r * (py + r)) / (2 * r);
      return Math.abs(px) <= halfWidth;
    }
  }
}
