import path from 'node:path';
import { Progress } from '../util/progress.ts';
import { openImageStore, type BadImage } from './image_store.ts';
import type { Dataset } from './manifest.ts';
import type { LoadedSplit } from './split.ts';

export interface PrepareOptions {
  /** keep the first N images by id and all their questions */
  subset?: number;
  skipBad: boolean;
}

/** Where a data set's packed stores (images, features) live. */
export function cacheDirOf(ds: Dataset): string {
  return process.env.VQA_CACHE_DIR ?? path.join(ds.dir, '.vqa-cache');
}

/** Opens (building if needed) a split's packed image store, showing progress while it packs. */
export function openImageStoreWithProgress(split: LoadedSplit, cacheDir: string, size: number, skipBad: boolean): ReturnType<typeof openImageStore> {
  return openImageStore(split, { cacheDir, size, skipBad, onProgress: progressReporter(`packing ${split.name} images`) });
}

/** A progress callback that shows a progress line once work starts. */
export function progressReporter(label: string, unit = 'images'): (done: number, total: number) => void {
  let progress: Progress | undefined;
  return (done, total) => (progress ??= new Progress(label, total, unit)).update(done);
}

/** The split without the questions about images that could not be read. */
export function withoutBad(split: LoadedSplit, bad: BadImage[]): LoadedSplit {
  if (bad.length === 0) return split;
  const badIds = new Set(bad.map((b) => b.imageId));
  return { ...split, samples: split.samples.filter((s) => !badIds.has(s.imageId)), imageIds: split.imageIds.filter((id) => !badIds.has(id)) };
}

export function describeBad(name: string, bad: BadImage[]): string[] {
  return bad.map((b) => `skipped in ${name}: ${b.file} (${b.reason})`);
}
