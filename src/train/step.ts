import { tf } from '../backend/tf.ts';
import { training } from '../nn/eager_ops.ts';
import type { VqaModel } from '../model/vqa_model.ts';
import type { Adam } from './adam.ts';
import type { Batch } from '../inputs/batches.ts';
import { klLoss } from './loss.ts';

export interface StepResult {
  loss: number;
  /** index of the top answer for each question */
  predicted: Int32Array;
}

export interface Gradients {
  loss: tf.Scalar;
  predicted: tf.Tensor;
  /** by parameter name; the caller disposes them */
  grads: Record<string, tf.Tensor>;
}

/**
 * Forward pass and KL loss on one batch, and the gradient of the loss for every trainable
 * parameter; `stagesOn` false zeroes the staged modules' features (their curriculum is not over).
 */
export function computeGradients(model: VqaModel, batch: Batch, stagesOn: boolean): Gradients {
  if (!batch.targets) throw new Error('training batch has no targets');
  const targets = batch.targets;
  const named = model.net.store.trainable();
  const nameOf = new Map([...named].map(([name, v]) => [v.name, name]));
  let predicted: tf.Tensor | undefined;
  model.net.setStagesOn(stagesOn);
  const { value, grads } = tf.variableGrads(() => {
    const out = model.net.forward(training, batch.inputs);
    predicted = tf.keep(tf.argMax(out.logits, 1));
    return klLoss(out.logits as tf.Tensor2D, targets);
  }, [...named.values()]);
  const byName: Record<string, tf.Tensor> = {};
  for (const [varName, g] of Object.entries(grads)) byName[nameOf.get(varName)!] = g;
  return { loss: value, predicted: predicted!, grads: byName };
}

/** One optimisation step: forward, KL loss, gradients, clipped Adam update. Leaves no tensors behind. */
export async function trainStep(model: VqaModel, adam: Adam, batch: Batch, lr: number, stagesOn: boolean): Promise<StepResult> {
  const { loss, predicted, grads } = computeGradients(model, batch, stagesOn);
  const norm = adam.apply(grads, lr);
  try {
    const [l, pred] = await Promise.all([loss.data(), predicted.data()]);
    return { loss: l[0]!, predicted: Int32Array.from(pred) };
  } finally {
    tf.dispose([loss, norm, predicted, ...Object.values(grads)]);
  }
}
