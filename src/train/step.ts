import { tf } from '../backend/tf.ts';
import type { VqaModel } from '../model/vqa_model.ts';
import type { Adam } from './adam.ts';
import type { Batch } from './batches.ts';
import { klLoss } from './loss.ts';

export interface StepResult {
  loss: number;
  /** index of the top answer for each question */
  predicted: Int32Array;
}

/** One optimisation step: forward, KL loss, gradients, clipped Adam update. Leaves no tensors behind. */
export async function trainStep(model: VqaModel, adam: Adam, batch: Batch, lr: number): Promise<StepResult> {
  if (!batch.targets) throw new Error('training batch has no targets');
  const targets = batch.targets;
  const named = model.net.store.trainable();
  const nameOf = new Map([...named].map(([name, v]) => [v.name, name]));
  let predicted: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const out = model.net.forward(batch.inputs, true);
    predicted = tf.keep(tf.argMax(out.logits, 1));
    return klLoss(out.logits, targets);
  }, [...named.values()]);
  const byName: Record<string, tf.Tensor> = {};
  for (const [varName, g] of Object.entries(grads)) byName[nameOf.get(varName)!] = g;
  const norm = adam.apply(byName, lr);
  try {
    const [loss, pred] = await Promise.all([value.data(), predicted!.data()]);
    return { loss: loss[0]!, predicted: Int32Array.from(pred) };
  } finally {
    tf.dispose([value, norm, predicted!, ...Object.values(grads)]);
  }
}
