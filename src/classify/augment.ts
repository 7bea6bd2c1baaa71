import type { Rng } from '../util/rng.ts';

/** On-the-fly training augmentation of a classifier's images (each epoch sees new pixels). */
export interface Augmentation {
  /** random translation by up to this many pixels each way (the "pad and random crop" of CIFAR training), the uncovered border filled with the corner pixel's colour */
  shift: number;
  /** mirror left–right with probability 1/2 */
  flip: boolean;
  /** probability of random erasing (Zhong et al. 2020): a rectangle of 2–40% of the image, aspect 0.3–3.3, filled with random values */
  erase: number;
}

/**
 * Augments `count` normalised size×size×3 images in `pixels` in place, drawing from `rng`
 * (so a seed gives the same pixels on every platform).
 */
export function augmentImages(pixels: Float32Array, count: number, size: number, a: Augmentation, rng: Rng): void {
  const px = size * size * 3;
  const copy = new Float32Array(px);
  for (let n = 0; n < count; n++) {
    const img = pixels.subarray(n * px, (n + 1) * px);
    const dx = a.shift > 0 ? rng.int(-a.shift, a.shift + 1) : 0;
    const dy = a.shift > 0 ? rng.int(-a.shift, a.shift + 1) : 0;
    const flip = a.flip && rng.next() < 0.5;
    if (dx !== 0 || dy !== 0 || flip) {
      copy.set(img);
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          // output (x, y) reads input (x - dx, y - dy), mirrored first when flipping
          const sx = (flip ? size - 1 - x : x) - dx;
          const sy = y - dy;
          const inside = sx >= 0 && sx < size && sy >= 0 && sy < size;
          const from = inside ? (sy * size + sx) * 3 : 0;
          for (let c = 0; c < 3; c++) img[(y * size + x) * 3 + c] = copy[from + c]!;
        }
    }
    if (a.erase > 0 && rng.next() < a.erase) eraseRectangle(img, size, rng);
  }
}

function eraseRectangle(img: Float32Array, size: number, rng: Rng): void {
  for (let attempt = 0; attempt < 10; attempt++) {
    const area = size * size * (0.02 + 0.38 * rng.next());
    const aspect = Math.exp(Math.log(0.3) + (Math.log(1 / 0.3) - Math.log(0.3)) * rng.next());
    const h = Math.round(Math.sqrt(area * aspect));
    const w = Math.round(Math.sqrt(area / aspect));
    if (h < 1 || w < 1 || h >= size || w >= size) continue;
    const top = rng.int(0, size - h + 1);
    const left = rng.int(0, size - w + 1);
    // uniform over the normalised range of 0–255: (x/255 − 0.5) / 0.25 ∈ [−2, 2]
    for (let y = top; y < top + h; y++) for (let x = left; x < left + w; x++) for (let c = 0; c < 3; c++) img[(y * size + x) * 3 + c] = -2 + 4 * rng.next();
    return;
  }
}
