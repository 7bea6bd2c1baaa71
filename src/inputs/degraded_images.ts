import { normalizePixels, type ImageTable } from '../data/images.ts';
import { degrade, randomDegradation } from '../data/synth/degrade.ts';
import { imageRng } from '../data/synth/seed.ts';
import { distinctRows, type BatchArrays } from './batches.ts';
import type { Sample } from '../data/split.ts';

/**
 * Re-degrades a training batch's images in place (train.degrade): each distinct image, with
 * probability `share`, gets a fresh draw of the generators' degradation mix applied to its stored
 * pixels. The draws depend only on the run's seed, the epoch and the image, so a resumed run reads
 * the pixels the first one would have.
 */
export async function degradeBatchImages(arrays: BatchArrays, batch: Sample[], images: ImageTable, share: number, seed: number, epoch: number): Promise<BatchArrays> {
  if (share <= 0) return arrays;
  const per = images.pixelsPerImage;
  const { distinct } = distinctRows(batch.map((s) => s.imageId));
  await Promise.all(
    distinct.map(async (imageId, row) => {
      const rng = imageRng(seed, `degrade ${epoch}`, imageId);
      if (rng.next() >= share) return;
      const pixels = await degrade(images.row(imageId), images.size, randomDegradation(rng), rng);
      normalizePixels(pixels, arrays.imageValues, row * per);
    }),
  );
  return arrays;
}
