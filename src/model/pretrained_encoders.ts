import { PretrainedTextModel } from '../language/pretrained_model.ts';
import type { ModelConfig } from '../config/config.ts';
import { loadImageRegionModel, type ImageRegionModel } from '../vision/image_region_model.ts';
import type { FolderRecord } from '../pretrained/folder.ts';

/** The pretrained models a config names; absent for the from-scratch encoders. */
export interface PretrainedModels {
  image?: ImageRegionModel;
  text?: PretrainedTextModel;
}

/** The model folders a checkpoint was trained with (its pretrained.json). */
export interface PretrainedRecords {
  vision?: FolderRecord;
  language?: FolderRecord;
}

/** Loads the pretrained models `cfg` uses, each checked against the folder a checkpoint recorded. */
export async function loadPretrainedModels(cfg: ModelConfig, recorded: PretrainedRecords = {}): Promise<PretrainedModels> {
  const image = cfg.vision.kind === 'pretrained' ? await loadImageRegionModel(cfg.vision, recorded.vision) : undefined;
  const text = cfg.language.kind === 'pretrained' ? await PretrainedTextModel.load(cfg.language, recorded.language) : undefined;
  return { image, text };
}

export function recordsOf(pretrainedModels: PretrainedModels): PretrainedRecords {
  return { vision: pretrainedModels.image?.record, language: pretrainedModels.text?.record };
}

/**
 * The config with the feature width and region grid of each pretrained encoder read from the
 * model itself (before the network is built); a value the config already gives must agree.
 */
export async function probed(cfg: ModelConfig, pretrainedModels: PretrainedModels): Promise<ModelConfig> {
  let { vision, language } = cfg;
  if (vision.kind === 'pretrained' && pretrainedModels.image) {
    const { grid, width } = await pretrainedModels.image.probe();
    agree('vision.width', vision.width, width, vision.model);
    agree('vision.grid', vision.grid?.join('×'), grid.join('×'), vision.model);
    vision = { ...vision, width, grid };
  }
  if (language.kind === 'pretrained' && pretrainedModels.text) {
    const width = await pretrainedModels.text.width();
    agree('language.width', language.width, width, language.model);
    language = { ...language, width };
  }
  return { ...cfg, vision, language };
}

function agree<T>(field: string, given: T | undefined, found: T, model: string): void {
  if (given !== undefined && given !== found)
    throw new Error(`model.${field} is ${String(given)} but '${model}' gives ${String(found)}: remove the field or use the matching model`);
}
