import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../util/json_file.ts';

/** The file in a model or checkpoint folder that holds the sha256 of every other file written with it. */
export const CHECKSUMS_FILE = 'checksums.json';

interface Checksums {
  algorithm: 'sha256';
  files: Record<string, string>;
}

function sha256(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

/** checksums.json for the files of a folder, written beside them. */
export function checksumsFor(files: Record<string, string | Uint8Array>): string {
  const sums: Checksums = { algorithm: 'sha256', files: Object.fromEntries(Object.entries(files).map(([name, content]) => [name, sha256(content)])) };
  return `${JSON.stringify(sums, null, 2)}\n`;
}

/**
 * Checks every file checksums.json lists against its sha256: a changed or missing file is refused,
 * naming it. A folder without checksums.json (written before they existed) is taken as it is.
 */
export function verifyChecksums(dir: string): void {
  const listFile = path.join(dir, CHECKSUMS_FILE);
  if (!fs.existsSync(listFile)) return;
  const list = readJsonFile(listFile) as Partial<Checksums>;
  if (list.algorithm !== 'sha256' || typeof list.files !== 'object' || list.files === null)
    throw new Error(`${listFile}: expected { "algorithm": "sha256", "files": { name: hex } }`);
  for (const [name, expected] of Object.entries(list.files)) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) throw new Error(`${file}: missing, though ${CHECKSUMS_FILE} lists it`);
    const actual = sha256(fs.readFileSync(file));
    if (actual !== expected) throw new Error(`${file}: corrupt (its sha256 is ${actual.slice(0, 12)}…, ${CHECKSUMS_FILE} says ${String(expected).slice(0, 12)}…)`);
  }
}
