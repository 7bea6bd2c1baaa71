import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeDirectory } from '../util/make_dir.ts';
import { decoderMessage } from '../util/decoder_message.ts';

export interface BadImage {
  imageId: number;
  file: string;
  reason: string;
}

interface StoreIndex {
  version: 1;
  rowBytes: number;
  fingerprint: string;
  ids: number[];
  bad: BadImage[];
  /** of NAME.bin, written with it; checked by `vqa data check` (opening a store reads no more than its index) */
  sha256?: string;
}

interface PartialIndex {
  fingerprint: string;
  done: number;
  bad: BadImage[];
}

export interface PackedStoreSpec {
  /** folder for the packed files */
  cacheDir: string;
  /** file stem: the store is NAME.bin plus the index NAME.json */
  name: string;
  /** identifies the sources and how rows are made; a store with another fingerprint is rebuilt */
  fingerprint: string;
  ids: number[];
  rowBytes: number;
  /** the rows for a chunk of ids, in order; an Error marks an image that cannot be read */
  makeRows(ids: number[]): Promise<(Uint8Array | Error)[]>;
  /** the file behind an id, to name it in messages */
  fileOf(id: number): string;
  /** skip unreadable images (listed in the result, their rows zero) instead of stopping */
  skipBad: boolean;
  onProgress?: (done: number, total: number) => void;
  /** rows made between two records of a partial store */
  chunk?: number;
}

/**
 * The rows of a complete store, read from its file one at a time with positioned reads: opening a
 * store takes the same time and memory at any size (Node cannot read a file over 2 GiB whole, and a
 * VQA v2 store is many times that).
 */
export class RowFile {
  constructor(
    readonly file: string,
    readonly rowCount: number,
    readonly rowBytes: number,
  ) {}

  /** Row r's bytes. The file is opened per read: a row is a small part of a step's work, and no descriptor outlives it. */
  read(r: number): Uint8Array {
    if (!Number.isInteger(r) || r < 0 || r >= this.rowCount) throw new Error(`${this.file}: row ${r} of ${this.rowCount}`);
    const out = new Uint8Array(this.rowBytes);
    const fd = fs.openSync(this.file, 'r');
    try {
      const got = fs.readSync(fd, out, 0, this.rowBytes, r * this.rowBytes);
      if (got !== this.rowBytes) throw new Error(`${this.file}: row ${r} is cut short (${got} of ${this.rowBytes} bytes): the store is damaged; delete it to rebuild`);
    } finally {
      fs.closeSync(fd);
    }
    return out;
  }
}

export interface PackedRows {
  ids: number[];
  rows: RowFile;
  bad: BadImage[];
  /** 'store' when read from a complete store, 'built' when (re)built now */
  from: 'store' | 'built';
}

/**
 * Fixed-size rows, one per id, packed into one binary file plus a JSON index and keyed by a
 * fingerprint. Built once (with progress, resumable: rows are appended and a partial index records
 * how many are done), then read by row (RowFile). The complete index is written last, so a partial store
 * is never taken for a complete one; one process builds a store while others wait for it.
 */
export async function openPackedStore(spec: PackedStoreSpec): Promise<PackedRows> {
  makeDirectory(spec.cacheDir);
  const base = path.join(spec.cacheDir, spec.name);
  for (;;) {
    const complete = readComplete(spec, base);
    if (complete) return complete;
    if (takeLock(`${base}.lock`)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  try {
    return readComplete(spec, base) ?? (await build(spec, base));
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

function readComplete(spec: PackedStoreSpec, base: string): PackedRows | undefined {
  const index = readJson<StoreIndex>(`${base}.json`);
  if (index?.fingerprint !== spec.fingerprint || index.rowBytes !== spec.rowBytes || !fs.existsSync(`${base}.bin`)) return undefined;
  if (fs.statSync(`${base}.bin`).size !== index.ids.length * spec.rowBytes) return undefined;
  if (index.bad.length > 0 && !spec.skipBad) throw badImagesError(index.bad);
  spec.onProgress?.(index.ids.length, index.ids.length);
  return { ids: index.ids, rows: new RowFile(`${base}.bin`, index.ids.length, spec.rowBytes), bad: index.bad, from: 'store' };
}

async function build(spec: PackedStoreSpec, base: string): Promise<PackedRows> {
  const partialBin = `${base}.partial.bin`;
  const partialJson = `${base}.partial.json`;
  const partial = readJson<PartialIndex>(partialJson);
  let done = 0;
  let bad: BadImage[] = [];
  if (partial?.fingerprint === spec.fingerprint && fs.existsSync(partialBin) && fs.statSync(partialBin).size >= partial.done * spec.rowBytes) {
    done = partial.done;
    bad = partial.bad;
    fs.truncateSync(partialBin, done * spec.rowBytes);
  } else {
    fs.writeFileSync(partialBin, new Uint8Array(0));
  }
  const ids = spec.ids;
  const fd = fs.openSync(partialBin, 'a');
  try {
    spec.onProgress?.(done, ids.length);
    while (done < ids.length) {
      const chunk = ids.slice(done, done + (spec.chunk ?? 32));
      const rows = await spec.makeRows(chunk);
      rows.forEach((row, i) => {
        if (row instanceof Error) {
          const file = spec.fileOf(chunk[i]!);
          const reason = decoderMessage(row);
          if (!spec.skipBad) throw new Error(`${file}: cannot read image (${reason}); use --skip-bad to skip such images`);
          bad.push({ imageId: chunk[i]!, file, reason });
          row = new Uint8Array(spec.rowBytes);
        }
        if (row.byteLength !== spec.rowBytes) throw new Error(`${spec.fileOf(chunk[i]!)}: row of ${row.byteLength} bytes where the store holds ${spec.rowBytes}`);
        fs.writeSync(fd, row);
      });
      done += chunk.length;
      writeJsonAtomically(partialJson, { fingerprint: spec.fingerprint, done, bad } satisfies PartialIndex);
      spec.onProgress?.(done, ids.length);
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(partialBin, `${base}.bin`);
  writeJsonAtomically(`${base}.json`, { version: 1, rowBytes: spec.rowBytes, fingerprint: spec.fingerprint, ids, bad, sha256: fileSha256(`${base}.bin`) } satisfies StoreIndex);
  fs.rmSync(partialJson, { force: true });
  return { ids, rows: new RowFile(`${base}.bin`, ids.length, spec.rowBytes), bad, from: 'built' };
}

/** A store's part: rows `ids` of the whole, built alone (by another process or machine) under `name`. */
export interface StorePart {
  name: string;
  fingerprint: string;
  ids: number[];
}

/**
 * Joins complete parts, in order, into the store `spec` describes: their rows concatenated into
 * NAME.bin (ids, bad images and all) and the complete index written last, as a build writes it.
 * Undefined, and nothing written, while a part is missing or incomplete. The parts stay on disk.
 */
export function mergePackedParts(spec: PackedStoreSpec, parts: StorePart[]): PackedRows | undefined {
  const base = path.join(spec.cacheDir, spec.name);
  const indexes = parts.map((part) => {
    const index = readJson<StoreIndex>(path.join(spec.cacheDir, `${part.name}.json`));
    const bin = path.join(spec.cacheDir, `${part.name}.bin`);
    const complete =
      index?.fingerprint === part.fingerprint && index.rowBytes === spec.rowBytes && fs.existsSync(bin) && fs.statSync(bin).size === index.ids.length * spec.rowBytes;
    return complete ? { index, bin } : undefined;
  });
  if (indexes.some((x) => x === undefined)) return undefined;
  const ids = indexes.flatMap((x) => x!.index.ids);
  if (ids.length !== spec.ids.length || ids.some((id, i) => id !== spec.ids[i]))
    throw new Error(`${base}: its parts hold other images than the split (${ids.length} rows for ${spec.ids.length} images)`);
  const bad = indexes.flatMap((x) => x!.index.bad);
  if (bad.length > 0 && !spec.skipBad) throw badImagesError(bad);
  const fd = fs.openSync(`${base}.partial.bin`, 'w');
  try {
    for (const x of indexes) appendFileTo(fd, x!.bin);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(`${base}.partial.bin`, `${base}.bin`);
  writeJsonAtomically(`${base}.json`, { version: 1, rowBytes: spec.rowBytes, fingerprint: spec.fingerprint, ids, bad, sha256: fileSha256(`${base}.bin`) } satisfies StoreIndex);
  return { ids, rows: new RowFile(`${base}.bin`, ids.length, spec.rowBytes), bad, from: 'built' };
}

/** Copies `file` onto the end of `fd` in 64 MB pieces (a part may be larger than Node reads whole). */
function appendFileTo(fd: number, file: string): void {
  const buffer = new Uint8Array(64 * 2 ** 20);
  const from = fs.openSync(file, 'r');
  try {
    for (let n; (n = fs.readSync(from, buffer, 0, buffer.length, null)) > 0;) fs.writeSync(fd, buffer, 0, n);
  } finally {
    fs.closeSync(from);
  }
}

/** The sha256 of a file, read in 64 MB pieces. */
function fileSha256(file: string): string {
  const hash = createHash('sha256');
  const buffer = new Uint8Array(64 * 2 ** 20);
  const fd = fs.openSync(file, 'r');
  try {
    for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Every complete store in `cacheDir` whose .bin no longer has the sha256 its index records, each a message naming the file. */
export function corruptStores(cacheDir: string): string[] {
  if (!fs.existsSync(cacheDir)) return [];
  return fs
    .readdirSync(cacheDir)
    .filter((f) => f.endsWith('.json') && !f.endsWith('.partial.json'))
    .flatMap((f) => {
      const index = readJson<StoreIndex>(path.join(cacheDir, f));
      const bin = path.join(cacheDir, f.replace(/\.json$/, '.bin'));
      if (!index?.sha256 || !fs.existsSync(bin)) return [];
      const actual = fileSha256(bin);
      return actual === index.sha256
        ? []
        : [`${bin}: corrupt (its sha256 is ${actual.slice(0, 12)}…, ${f} says ${index.sha256.slice(0, 12)}…); delete it and its index to rebuild`];
    });
}

/** The store `spec` describes if it is complete on disk, without building anything. */
export function completeStore(spec: PackedStoreSpec): PackedRows | undefined {
  return readComplete(spec, path.join(spec.cacheDir, spec.name));
}

function badImagesError(bad: BadImage[]): Error {
  const list = bad
    .slice(0, 5)
    .map((b) => `${b.file} (${b.reason})`)
    .join('; ');
  return new Error(`${bad.length} image(s) cannot be read: ${list}; use --skip-bad to skip them`);
}
