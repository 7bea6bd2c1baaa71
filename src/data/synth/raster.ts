/** A tiny RGB rasteriser: shapes are filled where the pixel centre lies inside them. */
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
  draw(shape: ShapeKind, cx: number, cy: number, r: number, colour: Rgb, ring = 0): void {
    const lo = (v: number) => Math.max(0, Math.floor(v - r - 1));
    const hi = (v: number) => Math.min(this.size - 1, Math.ceil(v + r + 1));
    for (let y = lo(cy); y <= hi(cy); y++) {
      for (let x = lo(cx); x <= hi(cx); x++) {
        const px = x + 0.5 - cx;
        const py = y + 0.5 - cy;
        if (!inside(shape, px, py, r)) continue;
        if (ring > 0 && inside(shape, px, py, r - ring)) continue;
        this.pixels.set(colour, (y * this.size + x) * 3);
      }
    }
  }
}

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
