import { Rng } from '../../util/rng.ts';

/** The generator for image `index` of `split`: each image depends only on (seed, split, index). */
export function imageRng(seed: number, split: string, index: number): Rng {
  let h = 2166136261 ^ seed;
  for (const ch of `${split}:${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return new Rng(h >>> 0);
}
