import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { decodeImage, ImageTable } from './images.ts';
import { openPackedStore, type BadImage } from './packed_store.ts';
import type { LoadedSplit } from './split.ts';

export type { BadImage } from './packed_store.ts';

export interface StoreOptions {
  /** folder for the packed files; one .bin and one .json per split and image size */
  cacheDir: string;
  size: number;
  /** skip images that cannot be decoded (listed in the result) instead of stopping */
  skipBad: boolean;
  onProgress?: (done: number, total: number) => void;
  /** images decoded between two progress records of a partial store */
  chunk?: number;
}

export interface StoreResult {
  table: ImageTable;
  bad: BadImage[];
  /** 'store' when read from a complete packed store, 'built' when decoded now */
  from: 'store' | 'built';
}

/** Identifies a split's source images: ids, paths, sizes and modification times. */
export function imagesFingerprint(split: LoadedSplit): string {
  const h = createHash('sha256');
  for (const id of split.imageIds) {
    const file = split.imagePath(id);
    // a missing file is part of the fingerprint (decoding it reports the error); no exception per file
    const st = fs.statSync(file, { throwIfNoEntry: false });
    const stamp = st ? `${st.size} ${st.mtimeMs}` : 'missing';
    h.update(`${id} ${file} ${stamp}\n`);
  }
  return h.digest('hex');
}

/** The decoded, resized images of a split, packed once into `cacheDir/SPLIT-SIZEpx.bin` (see openPackedStore). */
export async function openImageStore(split: LoadedSplit, o: StoreOptions): Promise<StoreResult> {
  const rows = await openPackedStore({
    cacheDir: o.cacheDir,
    name: `${split.name}-${o.size}px`,
    fingerprint: `images v1 ${o.size} ${imagesFingerprint(split)}`,
    ids: split.imageIds,
    rowBytes: o.size * o.size * 3,
    makeRows: (ids) => Promise.all(ids.map((id) => decodeImage(split.imagePath(id), o.size).catch((err: Error) => err))),
    fileOf: (id) => split.imagePath(id),
    skipBad: o.skipBad,
    onProgress: o.onProgress,
    chunk: o.chunk,
  });
  return { table: new ImageTable(rows.ids, o.size, rows.rows), bad: rows.bad, from: rows.from };
}
