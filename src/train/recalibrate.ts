import type { Dataset } from '../data/manifest.ts';
import { epochBatches, imageTensorBatches } from '../inputs/batches.ts';
import { openSplitInputs } from '../inputs/split_inputs.ts';
import { loadPretrainedModels } from '../model/pretrained_encoders.ts';
import type { VqaModel } from '../model/vqa_model.ts';

/**
 * Re-estimates a trained model's batch-norm statistics with its final weights over the first
 * `batches` batches of its training split, composed as in training (train.batchNormRecalibration
 * does this after every epoch; this is for models trained before it existed). Returns how many
 * batches were used.
 */
export async function recalibrateModel(model: VqaModel, ds: Dataset, batches: number): Promise<number> {
  const pretrainedModels = await loadPretrainedModels(model.config.model, model.pretrained);
  const { split, images } = await openSplitInputs(model, pretrainedModels, ds, 'train', { skipBad: false });
  const t = model.config.train;
  const chosen = epochBatches(split.samples, t.batchSize, t.questionsPerImage, t.seed, 0).slice(0, batches);
  model.net.recalibrateBatchNorm(imageTensorBatches(chosen, images));
  return chosen.length;
}
