import fs from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** An IDX file (the MNIST format): unsigned bytes with their dimensions, e.g. [60000, 28, 28] images or [60000] labels. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/**
 * Reads an IDX file, gzipped or not: magic 0x0000 08 D (unsigned bytes, D dimensions), then D
 * big-endian 32-bit sizes, then the values. Anything else is refused naming the file.
 */
export function readIdx(file: string): IdxArray {
  const raw = fs.readFileSync(file);
  const bytes = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) throw new Error(`${file}: not an IDX file of unsigned bytes (magic 0x000008xx)`);
  const rank = bytes[3]!;
  const header = 4 + 4 * rank;
  if (rank < 1 || bytes.length < header) throw new Error(`${file}: IDX header cut short`);
  const dims = Array.from({ length: rank }, (_, i) => bytes.readUInt32BE(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== header + size) throw new Error(`${file}: ${bytes.length - header} values, but the header says ${dims.join('×')} = ${size}`);
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + header, size) };
}
