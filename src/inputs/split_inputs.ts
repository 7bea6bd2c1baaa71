import { openFeatureStore } from '../data/feature_store.ts';
import type { ImageRows } from '../data/images.ts';
import type { Dataset } from '../data/manifest.ts';
import type { BadImage } from '../data/packed_store.ts';
import { openTextStateStore } from '../data/text_state_store.ts';
import { cacheDirOf, openImageStoreWithProgress, progressReporter, withoutBad, type PrepareOptions } from '../data/prepare.ts';
import { loadSplit, type LoadedSplit } from '../data/split.ts';
import { QuestionTokenizer } from '../language/tokenizer.ts';
import type { PretrainedModels } from '../model/pretrained_encoders.ts';
import { TokenizedQuestions, type QuestionRows } from '../language/question_rows.ts';
import type { VqaModel } from '../model/vqa_model.ts';

export interface SplitInputs {
  /** the split, without questions about unreadable images (with --skip-bad) */
  split: LoadedSplit;
  images: ImageRows;
  questions: QuestionRows;
  bad: BadImage[];
}

/**
 * What the network reads for a split, prepared once: packed pixels (cnn) or region features from
 * the feature store (pretrained vision), and token ids (transformer) or pretrained token states
 * (pretrained language).
 */
export async function openSplitInputs(model: VqaModel, pretrainedModels: PretrainedModels, ds: Dataset, name: string, o: PrepareOptions): Promise<SplitInputs> {
  const loaded = loadSplit(ds, name, o.subset);
  const cfg = model.config.model;
  const cacheDir = cacheDirOf(ds);
  let opened: { table: ImageRows; bad: BadImage[] };
  if (cfg.vision.kind === 'cnn') {
    opened = await openImageStoreWithProgress(loaded, cacheDir, cfg.imageSize, o.skipBad);
  } else {
    const { grid, width, storeDtype } = cfg.vision;
    if (!pretrainedModels.image || !grid || !width) throw new Error(`the pretrained image model '${cfg.vision.model}' is not loaded`);
    opened = await openFeatureStore(loaded, pretrainedModels.image, {
      cacheDir,
      dtype: storeDtype,
      grid,
      width,
      skipBad: o.skipBad,
      onProgress: progressReporter(`extracting ${name} features`),
    });
  }
  const split = withoutBad(loaded, opened.bad);
  const questions = await questionRowsFor(
    model,
    pretrainedModels,
    split.samples.map((s) => s.question),
    name,
    cacheDir,
  );
  return { split, images: opened.table, questions, bad: opened.bad };
}

/** Token ids, or the pretrained text model's states of every distinct question (from their packed store, built with progress the first time). */
async function questionRowsFor(model: VqaModel, pretrainedModels: PretrainedModels, questions: string[], label: string, cacheDir: string): Promise<QuestionRows> {
  const lang = model.config.model.language;
  if (lang.kind === 'transformer') return new TokenizedQuestions(new QuestionTokenizer(model.tokenizer), lang.maxTokens);
  if (!pretrainedModels.text) throw new Error(`the pretrained text model '${lang.model}' is not loaded`);
  if (!lang.width) throw new Error(`model.language.width is not set: the pretrained text model '${lang.model}' has not been probed`);
  return openTextStateStore(label, questions, pretrainedModels.text, {
    cacheDir,
    maxTokens: lang.maxTokens,
    width: lang.width,
    onProgress: progressReporter(`encoding ${label} questions`, 'questions'),
  });
}
