import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readJsonFile } from '../util/json_file.ts';

const SplitSchema = z
  .object({
    questions: z.string().min(1),
    annotations: z.string().min(1).optional(),
    images: z.string().min(1),
    imageFile: z.string().includes('{image_id', { message: 'must contain {image_id} or {image_id:0N}' }),
  })
  .strict();

const ManifestSchema = z
  .object({
    name: z.string().min(1),
    version: z.literal(1),
    generator: z.record(z.string(), z.unknown()).optional(),
    /** question_type families grouped for reporting, e.g. { "relational": ["closest shape", …] } */
    questionGroups: z.record(z.string(), z.array(z.string())).optional(),
    splits: z.record(z.string(), SplitSchema),
  })
  .strict();

export type Manifest = z.infer<typeof ManifestSchema>;
export type SplitFiles = z.infer<typeof SplitSchema>;

export interface Dataset {
  dir: string;
  manifest: Manifest;
}

export const MANIFEST_FILE = 'dataset.json';

export function loadDataset(dir: string): Dataset {
  const file = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(dir)) throw new Error(`data folder not found: ${dir}`);
  if (!fs.existsSync(file)) throw new Error(`${file}: missing (a dataset folder needs a ${MANIFEST_FILE} manifest; 'vqa data synth' writes one)`);
  const parsed = ManifestSchema.safeParse(readJsonFile(file));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `field '${i.path.join('.') || '(root)'}': ${i.message}`);
    throw new Error(`${file}: invalid manifest\n  ${problems.join('\n  ')}`);
  }
  if (process.env[ALLOW_OUTSIDE_PATHS] !== '1') {
    for (const [split, files] of Object.entries(parsed.data.splits)) {
      for (const field of ['questions', 'annotations', 'images'] as const) {
        const p = files[field];
        if (p === undefined) continue;
        const inside = path.relative(path.resolve(dir), path.resolve(dir, p));
        if (inside.startsWith('..') || path.isAbsolute(inside)) {
          throw new Error(`${file}: field 'splits.${split}.${field}' (${p}) leaves the data folder; pass --allow-outside-paths to read it anyway`);
        }
      }
    }
  }
  return { dir, manifest: parsed.data };
}

/** Set (to 1) by the CLI's --allow-outside-paths: manifests may then name files outside their folder. */
export const ALLOW_OUTSIDE_PATHS = 'VQA_ALLOW_OUTSIDE_PATHS';

export function splitFiles(ds: Dataset, split: string): SplitFiles {
  const s = ds.manifest.splits[split];
  if (!s) {
    throw new Error(`${path.join(ds.dir, MANIFEST_FILE)}: no split '${split}' (it has: ${Object.keys(ds.manifest.splits).join(', ')})`);
  }
  return s;
}

/** Expands `{image_id}` and zero-padded `{image_id:012}` in an image file template. */
function imageFileName(template: string, imageId: number): string {
  return template.replace(/\{image_id(?::0(\d+))?\}/g, (_, width: string | undefined) => (width ? String(imageId).padStart(Number(width), '0') : String(imageId)));
}

export function imagePath(ds: Dataset, split: string, imageId: number): string {
  const s = splitFiles(ds, split);
  return path.join(ds.dir, s.images, imageFileName(s.imageFile, imageId));
}
