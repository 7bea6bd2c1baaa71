// Ops on tfjs tensors, computed as they are called: what training, validation and the tfjs
// runtime run. The kernels chosen here (custom gradients, a one-hot gather) are for speed on
// wasm; their values are those of the plain formulas.
import { nativeKernelsActive } from '../backend/native_kernels.ts';
import { tf } from '../backend/tf.ts';
import type { BatchNormVariables, Operand, Ops } from './ops.ts';

type CustomGradFunc = Parameters<typeof tf.customGrad>[0];

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

/** Caffe's bound on the signed square root's gradient: 0.5·g / (|y| + ε) with y the output. */
export const SIGNED_SQRT_GRAD_EPS = 0.03;

const signedSqrt = tf.customGrad(((z: tf.Tensor, save: tf.GradSaveFunc) => {
  // √relu(z) − √relu(−z): tfjs's sign() treats tiny values as 0 on some backends.
  const y = tf.sub(tf.sqrt(tf.relu(z)), tf.sqrt(tf.relu(tf.neg(z))));
  save([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.div(tf.mul(dy, 0.5), tf.add(tf.abs(saved[0]!), SIGNED_SQRT_GRAD_EPS))],
  };
}) as unknown as CustomGradFunc) as (z: tf.Tensor) => tf.Tensor;

/** Receives each batch norm's batch statistics instead of updating its running ones (see EagerOps). */
export type BatchMomentsSink = (bn: BatchNormVariables, mean: tf.Tensor, variance: tf.Tensor) => void;

/**
 * `training` turns on dropout and batch statistics. A `batchMoments` sink also normalises with
 * batch statistics, but hands them to the sink rather than to the running averages: that is how
 * the statistics are re-estimated with the final weights (train.batchNormRecalibration).
 */
export class EagerOps implements Ops<tf.Tensor> {
  constructor(
    readonly training: boolean,
    private readonly batchMoments?: BatchMomentsSink,
  ) {}

  param(v: tf.Variable): tf.Tensor {
    return v;
  }
  constant(values: Float32Array, shape: number[]): tf.Tensor {
    return tf.tensor(values, shape, 'float32');
  }
  rank(x: tf.Tensor): number {
    return x.rank;
  }
  size(x: tf.Tensor, axis: number): number {
    return x.shape[axis]!;
  }

  add(a: tf.Tensor, b: Operand<tf.Tensor>): tf.Tensor {
    return tf.add(a, b);
  }
  sub(a: Operand<tf.Tensor>, b: Operand<tf.Tensor>): tf.Tensor {
    return tf.sub(a, b);
  }
  mul(a: tf.Tensor, b: Operand<tf.Tensor>): tf.Tensor {
    return tf.mul(a, b);
  }
  div(a: tf.Tensor, b: Operand<tf.Tensor>): tf.Tensor {
    return tf.div(a, b);
  }
  maximum(a: tf.Tensor, b: number): tf.Tensor {
    return tf.maximum(a, b);
  }
  relu(x: tf.Tensor): tf.Tensor {
    return tf.relu(x);
  }
  sqrt(x: tf.Tensor): tf.Tensor {
    return tf.sqrt(x);
  }
  exp(x: tf.Tensor): tf.Tensor {
    return tf.exp(x);
  }
  square(x: tf.Tensor): tf.Tensor {
    return tf.square(x);
  }
  signedSqrt(x: tf.Tensor): tf.Tensor {
    return signedSqrt(x);
  }

  /** A rank-2 b is applied to a [-1, K] view of a: one 2-D product, whose gradient is a 2-D product too. */
  matMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    if (b.rank === 2 && a.rank > 2) {
      const lead = a.shape.slice(0, -1);
      return tf.reshape(matMul(tf.reshape(a, [-1, a.shape.at(-1)!]), b), [...lead, b.shape[1]!]);
    }
    return matMul(a, b);
  }
  reshape(x: tf.Tensor, shape: number[]): tf.Tensor {
    return tf.reshape(
      x,
      shape.map((s, i) => (s === 0 ? x.shape[i]! : s)),
    );
  }
  transpose(x: tf.Tensor, perm: number[]): tf.Tensor {
    return tf.transpose(x, perm);
  }
  expandDims(x: tf.Tensor, axis: number): tf.Tensor {
    return tf.expandDims(x, axis);
  }
  concat(xs: tf.Tensor[], axis: number): tf.Tensor {
    return xs.length === 1 ? xs[0]! : tf.concat(xs, axis);
  }
  slice(x: tf.Tensor, axis: number, start: number, size: number): tf.Tensor {
    const axisAt = axis < 0 ? x.rank + axis : axis;
    const begin = x.shape.map((_, i) => (i === axisAt ? start : 0));
    const sizes = x.shape.map((_, i) => (i === axisAt ? size : -1));
    return tf.slice(x, begin, sizes);
  }
  tile(x: tf.Tensor, reps: number[]): tf.Tensor {
    return tf.tile(x, reps);
  }
  sum(x: tf.Tensor, axes: number[], keepDims: boolean): tf.Tensor {
    return tf.sum(x, axes, keepDims);
  }
  mean(x: tf.Tensor, axes: number[], keepDims: boolean): tf.Tensor {
    return tf.mean(x, axes, keepDims);
  }
  max(x: tf.Tensor, axis: number, keepDims: boolean): tf.Tensor {
    return tf.max(x, axis, keepDims);
  }
  softmax(x: tf.Tensor): tf.Tensor {
    return tf.softmax(x);
  }

  gather(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
    return tf.reshape(tf.gather(table, tf.reshape(ids, [-1])), [...ids.shape, ...table.shape.slice(1)]);
  }
  capIds(ids: tf.Tensor, last: number): tf.Tensor {
    return tf.minimum(ids, tf.scalar(last, 'int32'));
  }
  /** Computed as oneHot(index) · x: on wasm, GatherV2 over large rows is about 20× slower, and the product's gradient is a plain matMul too. */
  gatherRows(x: tf.Tensor, index: tf.Tensor): tf.Tensor {
    const [rows, ...rest] = x.shape as [number, ...number[]];
    // oneHot needs a depth of at least 2, and its float32 form is wrong on wasm: build int32, cast, cut.
    const oneHot = tf.cast(tf.oneHot(index as tf.Tensor1D, Math.max(rows, 2)), 'float32');
    const selector = rows >= 2 ? oneHot : tf.slice(oneHot, [0, 0], [-1, rows]);
    return tf.reshape(matMul(selector, tf.reshape(x, [rows, -1])), [index.shape[0]!, ...rest]);
  }
  conv2d(x: tf.Tensor, w: tf.Tensor, stride: number): tf.Tensor {
    return tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, 'same');
  }
  maxPool2x2(x: tf.Tensor): tf.Tensor {
    return tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid');
  }
  batchNorm(x: tf.Tensor, bn: BatchNormVariables): tf.Tensor {
    if (!this.training && !this.batchMoments) return normalize(x, bn.runningMean, bn.runningVar, bn);
    const { mean, variance } = tf.moments(
      x,
      x.shape.slice(0, -1).map((_, i) => i),
    );
    if (this.batchMoments) this.batchMoments(bn, mean, variance);
    else {
      const m = bn.momentum;
      tf.tidy(() => {
        bn.runningMean.assign(tf.add(tf.mul(bn.runningMean, m), tf.mul(mean, 1 - m)));
        bn.runningVar.assign(tf.add(tf.mul(bn.runningVar, m), tf.mul(variance, 1 - m)));
      });
    }
    return normalize(x, mean, variance, bn);
  }
  standardize(x: tf.Tensor, eps: number): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps)));
  }
  dropout(x: tf.Tensor, rate: number): tf.Tensor {
    return this.training && rate > 0 ? tf.dropout(x, rate) : x;
  }
}

function normalize(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, bn: BatchNormVariables): tf.Tensor {
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, bn.eps))), bn.gamma), bn.beta);
}

/** Eager ops in inference mode, and in training mode. */
export const inference = new EagerOps(false);
export const training = new EagerOps(true);
