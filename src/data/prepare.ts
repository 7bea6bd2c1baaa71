import path from 'node:path';
import { Progress } from '../train/progress.ts';
import type { ImageTable } from './images.ts';
import { openImageStore, type BadImage } from './image_store.ts';
import type { Dataset } from './manifest.ts';
import { loadSplit, type LoadedSplit } from './split.ts';

export interface PrepareOptions {
  /** keep the first N images by id and all their questions */
  subset?: number;
  skipBad: boolean;
}

export interface PreparedSplit {
  split: LoadedSplit;
  images: ImageTable;
  /** images that could not be decoded; their questions were dropped from `split` */
  bad: BadImage[];
}

/** Where a data set's packed image stores live. */
function cacheDirOf(ds: Dataset): string {
  return process.env.VQA_CACHE_DIR ?? path.join(ds.dir, '.vqa-cache');
}

/** Opens (building if needed) a split's packed image store, showing progress while it packs. */
export function openImageStoreWithProgress(split: LoadedSplit, cacheDir: string, size: number, skipBad: boolean): ReturnType<typeof openImageStore> {
  let progress: Progress | undefined;
  return openImageStore(split, {
    cacheDir,
    size,
    skipBad,
    onProgress: (done, total) => (progress ??= new Progress(`packing ${split.name} images`, total, 'images')).update(done),
  });
}

/** Loads a split's questions and its images (through the packed store), dropping unreadable images with --skip-bad. */
export async function prepareSplit(ds: Dataset, name: string, size: number, o: PrepareOptions): Promise<PreparedSplit> {
  const split = loadSplit(ds, name, o.subset);
  const { table, bad } = await openImageStoreWithProgress(split, cacheDirOf(ds), size, o.skipBad);
  if (bad.length === 0) return { split, images: table, bad };
  const badIds = new Set(bad.map((b) => b.imageId));
  const kept: LoadedSplit = { ...split, samples: split.samples.filter((s) => !badIds.has(s.imageId)), imageIds: split.imageIds.filter((id) => !badIds.has(id)) };
  return { split: kept, images: table, bad };
}

export function describeBad(name: string, bad: BadImage[]): string[] {
  return bad.map((b) => `skipped in ${name}: ${b.file} (${b.reason})`);
}
