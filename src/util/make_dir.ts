import fs from 'node:fs';
import path from 'node:path';

/**
 * `mkdir -p` whose error says why: Node's recursive mkdir reports ENOENT on a read-only file
 * system, so on failure the first missing folder is made alone, which fails with the real cause
 * (EROFS, EACCES, ENOSPC…), and that error is thrown naming the folder asked for.
 */
export function makeDirectory(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    let missing = path.resolve(dir);
    while (!fs.existsSync(path.dirname(missing)) && path.dirname(missing) !== missing) missing = path.dirname(missing);
    let cause = err as NodeJS.ErrnoException;
    try {
      fs.mkdirSync(missing);
      fs.rmdirSync(missing);
    } catch (real) {
      cause = real as NodeJS.ErrnoException;
    }
    const why = cause.code === 'EROFS' ? 'a read-only file system' : cause.code === 'EACCES' || cause.code === 'EPERM' ? 'permission denied' : cause.message;
    throw new Error(`${dir}: cannot create the folder (${cause.code ?? 'error'}: ${why})`);
  }
}
