import { tf } from '../backend/tf.ts';
import type { VqaModel } from '../model/vqa_model.ts';
import { training } from '../nn/eager_ops.ts';
import type { ParamStore } from '../nn/params.ts';
import type { Adam } from './adam.ts';
import type { Batch } from '../inputs/batches.ts';
import { klLoss } from './loss.ts';

export interface StepResult {
  loss: number;
  /** index of the top answer (or class) for each sample */
  predicted: Int32Array;
}

export interface Gradients {
  loss: tf.Scalar;
  predicted: tf.Tensor;
  /** by parameter name; the caller disposes them */
  grads: Record<string, tf.Tensor>;
}

/** The loss of one forward in training mode, the top index of its logits, and the gradient of every trainable parameter of `store`. */
export function gradientsOf(store: ParamStore, forward: () => { logits: tf.Tensor; loss: tf.Scalar }): Gradients {
  const named = store.trainable();
  const nameOf = new Map([...named].map(([name, v]) => [v.name, name]));
  let predicted: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const { logits, loss } = forward();
    predicted = tf.keep(tf.argMax(logits, 1));
    return loss;
  }, [...named.values()]);
  const byName: Record<string, tf.Tensor> = {};
  for (const [varName, g] of Object.entries(grads)) byName[nameOf.get(varName)!] = g;
  return { loss: value, predicted: predicted!, grads: byName };
}

/**
 * Forward pass and KL loss on one VQA batch, and the gradients; `stagesOn` false zeroes the
 * staged modules' features (their curriculum is not over).
 */
export function computeGradients(model: VqaModel, batch: Batch, stagesOn: boolean): Gradients {
  if (!batch.targets) throw new Error('training batch has no targets');
  const targets = batch.targets;
  model.net.setStagesOn(stagesOn);
  return gradientsOf(model.net.store, () => {
    const logits = model.net.forward(training, batch.inputs).logits as tf.Tensor2D;
    return { logits, loss: klLoss(logits, targets) };
  });
}

/**
 * The clipped Adam update of computed gradients (`scaled` as in Adam.apply); reads back the loss
 * and the top indices and frees everything.
 */
export async function applyGradients(adam: Adam, g: Gradients, lr: number, scaled = true): Promise<StepResult> {
  const norm = adam.apply(g.grads, lr, scaled);
  try {
    const [l, pred] = await Promise.all([g.loss.data(), g.predicted.data()]);
    return { loss: l[0]!, predicted: Int32Array.from(pred) };
  } finally {
    tf.dispose([g.loss, norm, g.predicted, ...Object.values(g.grads)]);
  }
}

/**
 * One VQA optimisation step: forward, KL loss, gradients, clipped Adam update. Leaves no tensors
 * behind. Once the staged modules are on (the curriculum is over) the rate scales apply too.
 */
export function trainStep(model: VqaModel, adam: Adam, batch: Batch, lr: number, stagesOn: boolean): Promise<StepResult> {
  return applyGradients(adam, computeGradients(model, batch, stagesOn), lr, stagesOn);
}
