import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export type PretrainedRole = 'vision' | 'language';

/** Which pretrained model to load: its id under the pretrained-models folder, and whether its quantized ONNX file. */
export interface PretrainedSpec {
  model: string;
  quantized: boolean;
}

/** Which model folder a checkpoint was trained with, so that loading it elsewhere can be checked. */
export interface FolderRecord {
  model: string;
  /** the ONNX file used, relative to the folder */
  file: string;
  /** sha256 of config.json and the ONNX file */
  sha256: string;
}

export interface LocatedFolder {
  /** the folder that holds the model id (transformers' localModelPath) and the id below it */
  root: string;
  id: string;
  dir: string;
  file: string;
}

/** Where model ids are looked up: VQA_PRETRAINED_DIR, else ./pretrained. */
function pretrainedRoot(): string {
  return path.resolve(process.env.VQA_PRETRAINED_DIR ?? 'pretrained');
}

const ROLE_FILES: Record<PretrainedRole, string[]> = {
  vision: ['config.json', 'preprocessor_config.json'],
  language: ['config.json', 'tokenizer.json', 'tokenizer_config.json'],
};

/**
 * Finds model `model` (an id such as "Xenova/resnet-50" under the pretrained root, or an absolute
 * path) and checks that it has the files its role needs, with one message naming what is missing
 * and how to get it.
 */
export function locateModelFolder(model: string, role: PretrainedRole, quantized: boolean): LocatedFolder {
  const { root, id, dir } = modelFolderPath(model, role);
  const absolute = path.isAbsolute(model);
  const file = quantized ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx';
  const howToGet = absolute
    ? `copy the model folder there`
    : `set VQA_PRETRAINED_DIR (or --pretrained-dir) to the folder that holds ${id}/, or fetch it on a machine with internet: git lfs install && git clone https://huggingface.co/${id} ${dir}`;
  if (!fs.existsSync(dir)) throw new Error(`${role} model '${model}' not found at ${dir}: ${howToGet}`);
  const missing = [...ROLE_FILES[role], file].filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length > 0) throw new Error(`${role} model folder ${dir} lacks ${missing.join(', ')}: ${howToGet}`);
  return { root, id, dir, file };
}

/** Where model `model` is: an id under the pretrained root, or an absolute path. */
export function modelFolderPath(model: string, role: PretrainedRole): { root: string; id: string; dir: string } {
  const absolute = path.isAbsolute(model);
  const root = absolute ? path.dirname(model) : pretrainedRoot();
  const id = absolute ? path.basename(model) : model;
  if (!absolute && id.split(/[\\/]/).includes('..')) throw new Error(`${role} model '${model}': a model id may not contain '..'`);
  return { root, id, dir: path.join(root, id) };
}

/** sha256 over config.json and the ONNX file, to tell two model folders apart. */
export function recordFolder(model: string, located: LocatedFolder): FolderRecord {
  const h = createHash('sha256');
  h.update(fs.readFileSync(path.join(located.dir, 'config.json')));
  h.update(fs.readFileSync(path.join(located.dir, located.file)));
  return { model, file: located.file, sha256: h.digest('hex') };
}

/** The folder found now must be the one the checkpoint was trained with. */
export function checkRecord(role: PretrainedRole, found: FolderRecord, recorded: FolderRecord | undefined, dir: string): void {
  if (!recorded) return;
  if (found.file !== recorded.file || found.sha256 !== recorded.sha256) {
    throw new Error(
      `${role} model folder ${dir} is not the one this model was trained with (${found.file} sha256 ${found.sha256.slice(0, 12)}…, ` +
        `recorded ${recorded.file} sha256 ${recorded.sha256.slice(0, 12)}…): point VQA_PRETRAINED_DIR at the copy of '${recorded.model}' used in training`,
    );
  }
}

/** @xenova/transformers set to read only local folders under `root`. */
export async function localTransformers(root: string) {
  const transformers = await import('@xenova/transformers');
  transformers.env.allowRemoteModels = false;
  transformers.env.allowLocalModels = true;
  transformers.env.localModelPath = `${root}${path.sep}`;
  return transformers;
}

/** Runs a model folder's loader, turning a failure (a truncated or foreign ONNX file, a bad JSON) into one message naming the folder. */
export async function loadingFolder<T>(role: PretrainedRole, located: LocatedFolder, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    throw new Error(`${role} model folder ${located.dir}: ${located.file} or its JSON files could not be loaded (${(err as Error).message}); fetch the folder again`);
  }
}
