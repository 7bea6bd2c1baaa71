/** The centre of each region of an h×w grid in [-1, 1], x then y, region by region in row-major order: [h·w·2]. */
export function regionCentres(h: number, w: number): Float32Array {
  const at = (i: number, n: number) => (n === 1 ? -1 : -1 + (2 * i) / (n - 1));
  const c = new Float32Array(h * w * 2);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) c.set([at(x, w), at(y, h)], 2 * (y * w + x));
  return c;
}
