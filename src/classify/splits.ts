import fs from 'node:fs';
import path from 'node:path';
import { openImageStoreWithProgress } from '../data/prepare.ts';
import { FASHION_MNIST_CLASSES, readFashionMnist, heldOutRows } from '../data/fashion_mnist.ts';
import { normalizePixels } from '../data/images.ts';
import { asLoadedSplit, readImageFolder } from './image_folder.ts';

/** One split of a classification set as training and evaluation read it: row r has labels[r]. */
export interface ClassifierSplit {
  classes: string[];
  labels: number[];
  /** what one row holds: [size, size, 3] normalised pixels, or a backbone's [regions, width] features */
  shape: number[];
  /** writes row r's values into `out` at `offset` */
  write(row: number, out: Float32Array, offset: number): void;
}

/** Whether `dir` holds Fashion-MNIST's IDX files (Debian's dataset-fashion-mnist) rather than an image folder. */
export function isIdxFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'train-images-idx3-ubyte.gz')) || fs.existsSync(path.join(dir, 't10k-images-idx3-ubyte.gz'));
}

/** The split a data folder is scored on by default: test for the IDX files, val for an image folder. */
export function defaultEvalSplit(dir: string): string {
  return isIdxFolder(dir) ? 'test' : 'val';
}

/**
 * Opens a split of either kind of set: an image folder (DIR/<split>/<class>/<image>, decoded once
 * into the packed store under DIR/.vqa-cache) or the Fashion-MNIST IDX files read in memory, whose
 * splits are those `vqa classify import-fashion-mnist` writes (train and val: the training files
 * with 10% held out by seed 1; test: the t10k files).
 */
export async function openClassifierSplit(dir: string, split: string, size: number, classes?: string[]): Promise<ClassifierSplit> {
  if (isIdxFolder(dir)) return idxSplit(dir, split, size, classes);
  const s = readImageFolder(dir, split, classes);
  const { table } = await openImageStoreWithProgress(asLoadedSplit(split, s), path.join(dir, '.vqa-cache'), size, false);
  return { classes: s.classes, labels: s.labels, shape: [size, size, 3], write: (row, out, offset) => table.write(row, out, offset) };
}

async function idxSplit(dir: string, split: string, size: number, classes?: string[]): Promise<ClassifierSplit> {
  if (!['train', 'val', 'test'].includes(split)) throw new Error(`${dir}: the Fashion-MNIST IDX files have the splits train, val and test, not '${split}'`);
  // the classes in the order an image folder of the same set has them (sorted names), so a model trained on either reads both
  const names = classes ?? [...FASHION_MNIST_CLASSES].sort();
  if ([...names].sort().join() !== [...FASHION_MNIST_CLASSES].sort().join())
    throw new Error(`${dir}: holds Fashion-MNIST, whose classes (${FASHION_MNIST_CLASSES.join(', ')}) are not the model's (${names.join(', ')})`);
  const labelOf = FASHION_MNIST_CLASSES.map((c) => names.indexOf(c));
  const set = readFashionMnist(dir, split === 'test' ? 't10k' : 'train');
  const [, h, w] = set.images.dims as [number, number, number];
  if (h !== size || w !== size)
    throw new Error(`${dir}: the IDX images are ${h}×${w}; the model reads ${size}×${size} (import them with \`vqa classify import-fashion-mnist\` to resize)`);
  let rows = Array.from({ length: set.labels.dims[0]! }, (_, i) => i);
  if (split !== 'test') {
    const held = heldOutRows(rows.length);
    rows = rows.filter((i) => held.has(i) === (split === 'val'));
  }
  const grey = new Uint8Array(h * w * 3);
  return {
    classes: names,
    labels: rows.map((i) => labelOf[set.labels.data[i]!]!),
    shape: [size, size, 3],
    write(row, out, offset) {
      const src = set.images.data.subarray(rows[row]! * h * w, (rows[row]! + 1) * h * w);
      for (let p = 0; p < h * w; p++) grey[3 * p] = grey[3 * p + 1] = grey[3 * p + 2] = src[p]!;
      normalizePixels(grey, out, offset);
    },
  };
}
