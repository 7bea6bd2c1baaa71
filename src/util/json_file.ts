import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';

/**
 * Reads and parses a JSON file; a missing or malformed file is one message naming it. Bytes that
 * are not UTF-8 are refused naming the line, rather than read as U+FFFD.
 */
export function readJsonFile(file: string): unknown {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${file}: file not found` : `${file}: cannot read (${(err as Error).message})`);
  }
  const text = bytes.toString('utf8');
  if (!isUtf8(bytes)) throw new Error(`${file}:${text.slice(0, text.indexOf('\uFFFD')).split('\n').length}: not valid UTF-8 text (JSON files must be UTF-8)`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
}
