import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_CLASSES, importFashionMnist } from '../src/data/fashion_mnist.ts';
import { readImageFolder } from '../src/classify/image_folder.ts';
import { tempDir } from './helpers.ts';

/** An IDX file of unsigned bytes: magic 0x000008 and the rank, big-endian sizes, the values. */
function idx(dims: number[], values: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return gzipSync(Buffer.concat([header, values]));
}

/** Fashion-MNIST-shaped files: `n` train and `m` test images of 28×28, image i filled with i and labelled i mod 10. */
function writeSource(dir: string, n: number, m: number): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [stem, count] of [
    ['train', n],
    ['t10k', m],
  ] as const) {
    const pixels = new Uint8Array(count * 784);
    for (let i = 0; i < count; i++) pixels.fill(i, i * 784, (i + 1) * 784);
    fs.writeFileSync(path.join(dir, `${stem}-images-idx3-ubyte.gz`), idx([count, 28, 28], pixels));
    fs.writeFileSync(
      path.join(dir, `${stem}-labels-idx1-ubyte.gz`),
      idx(
        [count],
        Uint8Array.from({ length: count }, (_, i) => i % 10),
      ),
    );
  }
}

describe('Fashion-MNIST import', () => {
  it('writes the IDX files as train / val (held out) / test image folders, pixel for pixel', async () => {
    const source = path.join(tempDir('fmnist'), 'src');
    writeSource(source, 40, 20);
    const out = path.join(tempDir('fmnist'), 'set');
    expect(await importFashionMnist({ source, out, valFraction: 0.25, seed: 1 })).toEqual({ train: 30, val: 10, test: 20 });
    const train = readImageFolder(out, 'train');
    expect(train.classes).toEqual([...FASHION_MNIST_CLASSES].sort());
    expect(readImageFolder(out, 'val').files).toHaveLength(10);
    expect(readImageFolder(out, 'test').files).toHaveLength(20);
    const file = path.join(out, 'test', FASHION_MNIST_CLASSES[7]!, '17.png');
    const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([28, 28]);
    expect(data.every((v) => v === 17)).toBe(true);
  });

  it('names the Debian package when the files are missing, and refuses a file that is not IDX', async () => {
    const empty = tempDir('fmnist-none');
    await expect(importFashionMnist({ source: empty, out: path.join(empty, 'o'), valFraction: 0.1, seed: 1 })).rejects.toThrow(
      `${path.join(empty, 'train-images-idx3-ubyte.gz')}: not found. Fashion-MNIST comes with Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist)`,
    );
    const source = path.join(tempDir('fmnist-bad'), 'src');
    writeSource(source, 4, 2);
    fs.writeFileSync(path.join(source, 'train-images-idx3-ubyte.gz'), gzipSync(Buffer.from('not idx at all')));
    await expect(importFashionMnist({ source, out: path.join(source, '..', 'o'), valFraction: 0.1, seed: 1 })).rejects.toThrow(
      /train-images-idx3-ubyte\.gz: not an IDX file of unsigned bytes/,
    );
  });
});
