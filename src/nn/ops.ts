// Small differentiable building blocks shared by the encoders and the fusion layers.
import { nativeKernelsActive } from '../backend/native_kernels.ts';
import { tf } from '../backend/tf.ts';

function swapLastTwo(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const n = perm.length;
  [perm[n - 2], perm[n - 1]] = [perm[n - 1]!, perm[n - 2]!];
  return tf.transpose(t, perm);
}

/**
 * a·b with a gradient that never asks for a transposed matMul on wasm's own kernels, which run
 * transposeA/transposeB 10–15× slower than a plain product: the transposes are materialised.
 * The native BLAS kernels take transposed operands at no cost, so with them the flags are used.
 */
type CustomGradFunc = Parameters<typeof tf.customGrad>[0];

export const matMul = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor, tf.Tensor];
      if (nativeKernelsActive()) return [tf.matMul(dy, sb, false, true), tf.matMul(sa, dy, true, false)];
      return [tf.matMul(dy, swapLastTwo(sb)), tf.matMul(swapLastTwo(sa), dy)];
    },
  };
}) as unknown as CustomGradFunc) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** Σ_n weights[b,g,n] · features[b,n,:] for each glimpse g, concatenated: [B, G·D]. */
export function attend(features: tf.Tensor3D, weights: tf.Tensor3D): tf.Tensor2D {
  const [b, , dim] = features.shape;
  const glimpses = weights.shape[1];
  const pooled = matMul(weights, features); // [B, G, D]
  return tf.reshape(pooled, [b, glimpses * dim]) as tf.Tensor2D;
}

/**
 * x[index] along axis 0, computed as oneHot(index) · x. On wasm, GatherV2 over large rows is
 * about 20× slower than this product, and the product's gradient is a plain matMul too.
 */
export function gatherRows(x: tf.Tensor, index: tf.Tensor1D): tf.Tensor {
  const [rows, ...rest] = x.shape as [number, ...number[]];
  // oneHot needs a depth of at least 2, and its float32 form is wrong on wasm: build int32, cast, cut.
  const oneHot = tf.cast(tf.oneHot(index, Math.max(rows, 2)), 'float32');
  const selector = rows >= 2 ? oneHot : tf.slice(oneHot, [0, 0], [-1, rows]);
  return tf.reshape(matMul(selector, tf.reshape(x, [rows, -1])), [index.shape[0], ...rest]);
}

/** Caffe's bound on the signed square root's gradient: 0.5·g / (|y| + ε) with y the output. */
export const SIGNED_SQRT_GRAD_EPS = 0.03;

/** sign(z)·√|z|, with the bounded gradient of the reference implementation. */
export const signedSqrt = tf.customGrad(((z: tf.Tensor, save: tf.GradSaveFunc) => {
  // √relu(z) − √relu(−z): tfjs's sign() treats tiny values as 0 on some backends.
  const y = tf.sub(tf.sqrt(tf.relu(z)), tf.sqrt(tf.relu(tf.neg(z))));
  save([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.div(tf.mul(dy, 0.5), tf.add(tf.abs(saved[0]!), SIGNED_SQRT_GRAD_EPS))],
  };
}) as unknown as CustomGradFunc) as (z: tf.Tensor) => tf.Tensor;

/**
 * z / √(‖z‖₂² + ε²) with the norm taken jointly over `axes`: ε² inside the root (as Caffe adds its
 * ε there) keeps the gradient finite at z = 0, where the square root's own derivative is infinite.
 */
export function l2Normalize(z: tf.Tensor, axes: number[], eps = 1e-12): tf.Tensor {
  return tf.div(z, tf.sqrt(tf.add(tf.sum(tf.square(z), axes, true), eps * eps)));
}

/** (x − mean) / √(variance + ε) over the last axis: a layer norm without a learned scale or shift. */
export function standardize(x: tf.Tensor, eps = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps)));
}

/** Softmax over `axis` where mask = 0 entries get no weight (mask is broadcastable to logits). */
export function maskedSoftmax(logits: tf.Tensor, mask: tf.Tensor, axis: number): tf.Tensor {
  const masked = tf.add(logits, tf.mul(tf.sub(1, mask), -1e9));
  const shifted = tf.sub(masked, tf.max(masked, axis, true));
  const e = tf.mul(tf.exp(shifted), mask);
  return tf.div(e, tf.add(tf.sum(e, axis, true), 1e-12));
}

export function dropout(x: tf.Tensor, rate: number, training: boolean): tf.Tensor {
  return training && rate > 0 ? tf.dropout(x, rate) : x;
}
