import { modelFolderPath, type FolderRecord, type PretrainedSpec } from '../pretrained/folder.ts';
import { PretrainedImageModel, type RegionFeatures } from './pretrained_model.ts';
import { isTfjsFolder, TfjsBackbone, type TfjsBackboneSpec } from './tfjs_backbone.ts';

/**
 * A frozen pretrained image model as the rest of the package uses it: decode an image, extract its
 * region features [h·w, C], probe the grid and width. `D` is what decoding gives the model.
 */
export interface ImageRegionModel<D = unknown> {
  /** names the model folder (and, for tfjs, its cut); feature stores and checkpoints keep it */
  readonly record: FolderRecord;
  decode(input: string | Buffer): Promise<D>;
  extract(images: D[]): Promise<RegionFeatures>;
  probe(): Promise<{ grid: [number, number]; width: number }>;
}

/** The config's image model: a tfjs model folder (model.json) cut at its layer, or an ONNX folder run by @xenova/transformers. */
export async function loadImageRegionModel(spec: PretrainedSpec & TfjsBackboneSpec, recorded?: FolderRecord): Promise<ImageRegionModel> {
  const { dir } = modelFolderPath(spec.model, 'vision');
  if (isTfjsFolder(dir)) return TfjsBackbone.load(dir, spec, recorded);
  if (spec.layer) throw new Error(`model.vision.layer is set, but ${dir} holds no tfjs model.json: an ONNX folder gives its last_hidden_state`);
  return PretrainedImageModel.load(spec, recorded);
}
