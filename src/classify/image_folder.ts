import fs from 'node:fs';
import path from 'node:path';
import type { LoadedSplit } from '../data/split.ts';

const IMAGE = /\.(png|jpe?g|webp|gif|tiff?)$/i;

export interface ImageFolderSplit {
  classes: string[];
  files: string[];
  labels: number[];
}

/** DIR/<split>/<class>/<image>: classes are the sorted folder names. */
export function readImageFolder(dir: string, split: string, classes?: string[]): ImageFolderSplit {
  const root = path.join(dir, split);
  if (!fs.existsSync(root)) throw new Error(`${root}: missing (an image-folder data set has ${split}/<class>/<image> files)`);
  const found = fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const names = classes ?? found;
  if (names.length < 2) throw new Error(`${root}: needs at least two class folders, found ${found.length}`);
  const unknown = found.filter((c) => !names.includes(c));
  if (unknown.length) throw new Error(`${root}: class folder(s) ${unknown.join(', ')} are not among the model's classes`);
  const files: string[] = [];
  const labels: number[] = [];
  names.forEach((name, label) => {
    const folder = path.join(root, name);
    if (!fs.existsSync(folder)) return;
    const images = fs
      .readdirSync(folder)
      .filter((f) => IMAGE.test(f))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    if (images.length === 0) throw new Error(`${folder}: no images`);
    for (const f of images) {
      files.push(path.join(folder, f));
      labels.push(label);
    }
  });
  return { classes: names, files, labels };
}

/** The split as the packed image store sees it: image i is files[i]. */
export function asLoadedSplit(name: string, s: ImageFolderSplit): LoadedSplit {
  return { name, samples: [], imageIds: s.files.map((_, i) => i), imagePath: (i) => s.files[i]! };
}
