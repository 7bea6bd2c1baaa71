import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_CLASSES, importFashionMnist } from '../src/data/fashion_mnist.ts';
import { readImageFolder } from '../src/classify/image_folder.ts';
import { defaultEvalSplit, isIdxFolder, openClassifierSplit } from '../src/classify/splits.ts';
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

describe('Fashion-MNIST read from the IDX files directly', () => {
  it('gives the splits the importer writes, row for row, with the same pixels and class order', async () => {
    const source = path.join(tempDir('fmnist-idx'), 'src');
    writeSource(source, 40, 20);
    const out = path.join(tempDir('fmnist-idx'), 'set');
    await importFashionMnist({ source, out, valFraction: 0.1, seed: 1 });
    expect(isIdxFolder(source)).toBe(true);
    expect(isIdxFolder(out)).toBe(false);
    expect(defaultEvalSplit(source)).toBe('test');
    for (const split of ['train', 'val', 'test']) {
      const fromIdx = await openClassifierSplit(source, split, 28);
      // val holds only some classes here; training reads it with train's classes, as here
      const fromFolder = await openClassifierSplit(out, split, 28, split === 'train' ? undefined : fromIdx.classes);
      expect(fromIdx.classes).toEqual(fromFolder.classes);
      expect(fromIdx.labels.length).toBe(fromFolder.labels.length);
      // the folder lists a class's images in index order; so must the IDX rows of that class
      const pixelsOf = (s: typeof fromIdx) =>
        s.labels
          .map((label, row) => ({ label, row }))
          .sort((a, b) => a.label - b.label)
          .map(({ row }) => {
            const px = new Float32Array(28 * 28 * 3);
            s.write(row, px, 0);
            return px[0]!;
          });
      expect(pixelsOf(fromIdx)).toEqual(pixelsOf(fromFolder));
    }
    const test = await openClassifierSplit(source, 'test', 28);
    const px = new Float32Array(28 * 28 * 3);
    test.write(17, px, 0);
    expect(px.every((v) => Math.abs(v - (17 / 255 - 0.5) / 0.25) < 1e-6)).toBe(true);
    expect(test.classes[test.labels[17]!]).toBe(FASHION_MNIST_CLASSES[7]);
  });

  it('refuses a split it does not have and an image size it cannot read', async () => {
    const source = path.join(tempDir('fmnist-idx-bad'), 'src');
    writeSource(source, 10, 10);
    await expect(openClassifierSplit(source, 'dev', 28)).rejects.toThrow("have the splits train, val and test, not 'dev'");
    await expect(openClassifierSplit(source, 'test', 32)).rejects.toThrow('the IDX images are 28×28; the model reads 32×32');
  });
});
