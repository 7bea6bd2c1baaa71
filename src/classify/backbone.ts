import fs from 'node:fs';
import path from 'node:path';
import { openFeatureStore } from '../data/feature_store.ts';
import type { FolderRecord } from '../pretrained/folder.ts';
import { Progress } from '../util/progress.ts';
import { readJsonFile } from '../util/json_file.ts';
import { loadImageRegionModel, type ImageRegionModel } from '../vision/image_region_model.ts';
import type { ClassifierConfig } from './config.ts';
import { asLoadedSplit, readImageFolder } from './image_folder.ts';
import { isIdxFolder, type ClassifierSplit } from './splits.ts';

/** A classifier's frozen pretrained trunk, loaded: the model and the [regions, width] features it gives every image. */
export interface LoadedBackbone {
  model: ImageRegionModel;
  grid: [number, number];
  width: number;
}

/** What a classifier model folder keeps of its backbone (backbone.json): which folder and cut, and the feature shape. */
interface BackboneRecord {
  record: FolderRecord;
  grid: [number, number];
  width: number;
}

const RECORD_FILE = 'backbone.json';

/** Loads the config's backbone, checked against the folder a saved model was trained with when `modelDir` is given. */
export async function loadBackbone(spec: NonNullable<ClassifierConfig['model']['backbone']>, modelDir?: string): Promise<LoadedBackbone> {
  const saved = modelDir ? (readJsonFile(path.join(modelDir, RECORD_FILE)) as BackboneRecord) : undefined;
  const model = await loadImageRegionModel({ model: spec.model, quantized: false, layer: spec.layer, inputRange: spec.inputRange }, saved?.record);
  const { grid, width } = await model.probe();
  return { model, grid, width };
}

/** The backbone.json file of a model folder. */
export function backboneFile(b: LoadedBackbone): Record<string, string> {
  const record: BackboneRecord = { record: b.model.record, grid: b.grid, width: b.width };
  return { [RECORD_FILE]: `${JSON.stringify(record, null, 2)}\n` };
}

/** The feature shape a saved model's backbone gives, read without loading the backbone. */
export function savedBackboneShape(modelDir: string): { regions: number; width: number } {
  const f = path.join(modelDir, RECORD_FILE);
  if (!fs.existsSync(f)) throw new Error(`${modelDir}: the classifier has model.backbone but no ${RECORD_FILE}`);
  const { grid, width } = readJsonFile(f) as BackboneRecord;
  return { regions: grid[0] * grid[1], width };
}

/**
 * A split of an image folder as the backbone's region features, extracted once (with progress)
 * into DIR/.vqa-cache as float16 rows and reused by every later run and evaluation.
 */
export async function openBackboneSplit(dir: string, split: string, b: LoadedBackbone, classes?: string[]): Promise<ClassifierSplit> {
  if (isIdxFolder(dir)) throw new Error(`${dir}: a backbone reads images from an image folder; write one with \`vqa classify import-fashion-mnist --out DIR\``);
  const s = readImageFolder(dir, split, classes);
  const progress = new Progress(`extracting ${split} features (${b.model.record.model})`, s.files.length, 'images');
  const { table } = await openFeatureStore(asLoadedSplit(split, s), b.model, {
    cacheDir: path.join(dir, '.vqa-cache'),
    dtype: 'float16',
    grid: b.grid,
    width: b.width,
    skipBad: false,
    onProgress: (done) => progress.update(done),
  });
  return { classes: s.classes, labels: s.labels, shape: [b.grid[0] * b.grid[1], b.width], write: (row, out, offset) => table.write(row, out, offset) };
}
