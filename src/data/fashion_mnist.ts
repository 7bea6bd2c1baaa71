import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { makeDirectory } from '../util/make_dir.ts';
import { Rng } from '../util/rng.ts';
import { readIdx, type IdxArray } from './idx.ts';

/** Where Debian's dataset-fashion-mnist package puts the original files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The ten classes in label order, as folder names. */
export const FASHION_MNIST_CLASSES = ['t-shirt-top', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];

/** The default held-out share and seed of the val split, used by the importer and when training on the IDX files directly. */
export const FASHION_MNIST_VAL = { fraction: 0.1, seed: 1 };

/** The training rows held out as val: `fraction` of `count` rows, picked at random by `seed`. */
export function heldOutRows(count: number, fraction = FASHION_MNIST_VAL.fraction, seed = FASHION_MNIST_VAL.seed): Set<number> {
  const order = new Rng(seed).shuffle(Array.from({ length: count }, (_, i) => i));
  return new Set(order.slice(0, Math.round(fraction * count)));
}

export interface FashionMnistSet {
  images: IdxArray;
  labels: IdxArray;
}

/** Reads SOURCE/{stem}-images-idx3-ubyte.gz and its labels, checked against each other and the ten classes. */
export function readFashionMnist(source: string, stem: 'train' | 't10k'): FashionMnistSet {
  const file = (name: string) => {
    const f = path.join(source, `${name}-ubyte.gz`);
    if (!fs.existsSync(f))
      throw new Error(
        `${f}: not found. Fashion-MNIST comes with Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist), or name the folder of the IDX files with --source`,
      );
    return f;
  };
  const images = readIdx(file(`${stem}-images-idx3`));
  const labels = readIdx(file(`${stem}-labels-idx1`));
  if (images.dims.length !== 3 || labels.dims.length !== 1 || images.dims[0] !== labels.dims[0])
    throw new Error(`${stem}: ${images.dims.join('×')} images against ${labels.dims.join('×')} labels`);
  const bad = labels.data.findIndex((l) => l >= FASHION_MNIST_CLASSES.length);
  if (bad >= 0) throw new Error(`${file(`${stem}-labels-idx1`)}: label ${labels.data[bad]} at ${bad} is not one of the ${FASHION_MNIST_CLASSES.length} classes`);
  return { images, labels };
}

/**
 * Writes Fashion-MNIST as an image-folder set: OUT/{train,val,test}/<class>/<n>.png (28×28 grey),
 * val being `valFraction` of the training images held out at random (seeded), test the t10k files.
 */
export async function importFashionMnist(o: {
  source: string;
  out: string;
  valFraction: number;
  seed: number;
  onProgress?: (done: number, total: number) => void;
}): Promise<{ train: number; val: number; test: number }> {
  if (fs.existsSync(o.out) && fs.readdirSync(o.out).length > 0) throw new Error(`${o.out}: exists and is not empty`);
  const train = readFashionMnist(o.source, 'train');
  const test = readFashionMnist(o.source, 't10k');
  const held = heldOutRows(train.labels.dims[0]!, o.valFraction, o.seed);
  const valCount = held.size;
  const tmp = `${o.out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const total = train.labels.dims[0]! + test.labels.dims[0]!;
  let done = 0;
  const write = async (set: FashionMnistSet, i: number, split: string) => {
    const [, h, w] = set.images.dims as [number, number, number];
    const dir = path.join(tmp, split, FASHION_MNIST_CLASSES[set.labels.data[i]!]!);
    makeDirectory(dir);
    const png = await sharp(Buffer.from(set.images.data.subarray(i * h * w, (i + 1) * h * w)), { raw: { width: w, height: h, channels: 1 } })
      .png()
      .toBuffer();
    fs.writeFileSync(path.join(dir, `${i}.png`), png);
    o.onProgress?.(++done, total);
  };
  for (let i = 0; i < train.labels.dims[0]!; i++) await write(train, i, held.has(i) ? 'val' : 'train');
  for (let i = 0; i < test.labels.dims[0]!; i++) await write(test, i, 'test');
  makeDirectory(path.dirname(path.resolve(o.out)));
  if (fs.existsSync(o.out)) fs.rmdirSync(o.out);
  fs.renameSync(tmp, o.out);
  return { train: train.labels.dims[0]! - valCount, val: valCount, test: test.labels.dims[0]! };
}
