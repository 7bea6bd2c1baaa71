import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { decodeImage, ImageTable } from './images.ts';
import type { LoadedSplit } from './split.ts';

export interface BadImage {
  imageId: number;
  file: string;
  reason: string;
}

interface StoreIndex {
  version: 1;
  size: number;
  fingerprint: string;
  imageIds: number[];
  bad: BadImage[];
}

interface PartialIndex {
  fingerprint: string;
  done: number;
  bad: BadImage[];
}

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
  /** 'store' when read from a complete packed store, 'decoded' when (re)built now */
  from: 'store' | 'decoded';
}


/** Identifies the source images: ids, paths, sizes and modification times. */
function fingerprint(split: LoadedSplit, size: number): string {
  const h = createHash('sha256');
  h.update(`v1 ${size}\n`);
  for (const id of split.imageIds) {
    const file = split.imagePath(id);
    let stamp = 'missing';
    try {
      const st = fs.statSync(file);
      stamp = `${st.size} ${st.mtimeMs}`;
    } catch {
      // a missing file is part of the fingerprint; decoding it reports the error
    }
    h.update(`${id} ${file} ${stamp}\n`);
  }
  return h.digest('hex');
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function writeJsonAtomically(file: string, value: unknown): void {
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(value));
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * The decoded, resized images of a split packed into one binary file plus a JSON index, keyed by
 * the source images and the size. Built once (with progress, resumable: rows are appended and a
 * partial index records how many are done), then read back whole on later runs. The complete
 * index is written last, so a partial store is never taken for a complete one.
 */
export async function openImageStore(split: LoadedSplit, o: StoreOptions): Promise<StoreResult> {
  fs.mkdirSync(o.cacheDir, { recursive: true });
  const base = path.join(o.cacheDir, `${split.name}-${o.size}px`);
  const fp = fingerprint(split, o.size);
  // One builder at a time: another process building the same store is waited for, not raced.
  for (;;) {
    const complete = readComplete(o, base, fp);
    if (complete) return complete;
    if (takeLock(`${base}.lock`)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  try {
    return readComplete(o, base, fp) ?? (await build(split, o, base, fp));
  } finally {
    fs.rmSync(`${base}.lock`, { force: true });
  }
}

/** Creates the lock file, or removes it first when the process that holds it is gone. */
function takeLock(lock: string): boolean {
  try {
    fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    const holder = Number(fs.readFileSync(lock, 'utf8'));
    try {
      if (holder === process.pid) return false;
      process.kill(holder, 0);
      return false;
    } catch {
      fs.rmSync(lock, { force: true });
      return takeLock(lock);
    }
  }
}

function readComplete(o: StoreOptions, base: string, fp: string): StoreResult | undefined {
  const px = o.size * o.size * 3;
  const index = readJson<StoreIndex>(`${base}.json`);
  if (index?.fingerprint === fp && fs.existsSync(`${base}.bin`) && fs.statSync(`${base}.bin`).size === index.imageIds.length * px) {
    const table = new ImageTable(index.imageIds, o.size, fs.readFileSync(`${base}.bin`));
    if (index.bad.length > 0 && !o.skipBad) throw badImagesError(index.bad);
    o.onProgress?.(index.imageIds.length, index.imageIds.length);
    return { table, bad: index.bad, from: 'store' };
  }
  return undefined;
}

async function build(split: LoadedSplit, o: StoreOptions, base: string, fp: string): Promise<StoreResult> {
  const px = o.size * o.size * 3;
  const partialBin = `${base}.partial.bin`;
  const partialJson = `${base}.partial.json`;
  const partial = readJson<PartialIndex>(partialJson);
  let done = 0;
  let bad: BadImage[] = [];
  if (partial?.fingerprint === fp && fs.existsSync(partialBin) && fs.statSync(partialBin).size >= partial.done * px) {
    done = partial.done;
    bad = partial.bad;
    fs.truncateSync(partialBin, done * px);
  } else {
    fs.writeFileSync(partialBin, new Uint8Array(0));
  }
  const ids = split.imageIds;
  const fd = fs.openSync(partialBin, 'a');
  try {
    o.onProgress?.(done, ids.length);
    while (done < ids.length) {
      const chunk = ids.slice(done, done + (o.chunk ?? 32));
      const rows = await Promise.all(
        chunk.map(async (id) => {
          const file = split.imagePath(id);
          try {
            return await decodeImage(file, o.size);
          } catch (err) {
            const reason = (err as Error).message.split('\n')[0]!;
            if (!o.skipBad) throw new Error(`${file}: cannot read image (${reason}); use --skip-bad to skip such images`);
            bad.push({ imageId: id, file, reason });
            return new Uint8Array(px);
          }
        }),
      );
      for (const r of rows) fs.writeSync(fd, r);
      done += chunk.length;
      writeJsonAtomically(partialJson, { fingerprint: fp, done, bad } satisfies PartialIndex);
      o.onProgress?.(done, ids.length);
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(partialBin, `${base}.bin`);
  writeJsonAtomically(`${base}.json`, { version: 1, size: o.size, fingerprint: fp, imageIds: ids, bad } satisfies StoreIndex);
  fs.rmSync(partialJson, { force: true });
  return { table: new ImageTable(ids, o.size, fs.readFileSync(`${base}.bin`)), bad, from: 'decoded' };
}

function badImagesError(bad: BadImage[]): Error {
  const list = bad.slice(0, 5).map((b) => `${b.file} (${b.reason})`).join('; ');
  return new Error(`${bad.length} image(s) cannot be read: ${list}; use --skip-bad to skip them`);
}
