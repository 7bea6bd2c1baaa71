import { tf } from '../backend/tf.ts';

/**
 * KL(t ‖ softmax(logits)) = Σ_a t_a (log t_a − log p_a), averaged over the batch.
 * Targets are annotator counts / 10 and need not sum to 1 (openvqa's convention).
 */
export function klLoss(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  const logP = tf.logSoftmax(logits);
  const logT = tf.log(tf.maximum(targets, 1e-12));
  return tf.mean(tf.sum(tf.mul(targets, tf.sub(logT, logP)), 1));
}
