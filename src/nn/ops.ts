// The operations every layer is written against, once. Two implementations run them: eager tfjs
// (eager_ops.ts: training, validation and the tfjs runtime) and an ONNX recorder
// (onnx_recorder.ts: the exported graph, in inference mode).
import type { tf } from '../backend/tf.ts';

/** A tensor operand or a plain number, broadcast as a scalar. */
export type Operand<T> = T | number;

/** The variables of a batch norm: its scale and shift, and the running statistics used in inference. */
export interface BatchNormVariables {
  gamma: tf.Variable;
  beta: tf.Variable;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
  eps: number;
  momentum: number;
}

/**
 * Shapes follow ONNX's rules: elementwise operations broadcast numpy-style; in `reshape`, 0 keeps
 * that axis of the input and -1 takes what is left, so that a layer never needs the batch size.
 */
export interface Ops<T> {
  /** dropout is active and batch norms use (and update) batch statistics */
  readonly training: boolean;
  /** a parameter (the recorder stores each variable once, whoever reads it) */
  param(v: tf.Variable): T;
  /** fixed numbers that are not parameters: region centres, token places */
  constant(values: Float32Array, shape: number[]): T;
  rank(x: T): number;
  /** the size of an axis when it is known as the network runs (eager); the recorder knows ranks only, so a caller falls back to the configured size the graph's inputs have */
  size(x: T, axis: number): number | undefined;

  add(a: T, b: Operand<T>): T;
  sub(a: Operand<T>, b: Operand<T>): T;
  mul(a: T, b: Operand<T>): T;
  div(a: T, b: Operand<T>): T;
  /** elementwise max with a number */
  maximum(a: T, b: number): T;
  relu(x: T): T;
  sqrt(x: T): T;
  exp(x: T): T;
  square(x: T): T;
  /** sign(z)·√|z|; in training its gradient is bounded as Caffe's, 0.5·g / (|y| + ε) */
  signedSqrt(x: T): T;

  /** a·b over the last two axes; b of rank 2 applies to every leading index of a, else the leading axes match */
  matMul(a: T, b: T): T;
  reshape(x: T, shape: number[]): T;
  transpose(x: T, perm: number[]): T;
  expandDims(x: T, axis: number): T;
  concat(xs: T[], axis: number): T;
  /** `size` entries from `start` along `axis` */
  slice(x: T, axis: number, start: number, size: number): T;
  tile(x: T, reps: number[]): T;
  sum(x: T, axes: number[], keepDims: boolean): T;
  mean(x: T, axes: number[], keepDims: boolean): T;
  max(x: T, axis: number, keepDims: boolean): T;
  /** over the last axis */
  softmax(x: T): T;

  /** rows of `table` [V, …] at integer `ids` of any shape: [...ids, …] */
  gather(table: T, ids: T): T;
  /** int32 ids with every id above `last` read as `last` */
  capIds(ids: T, last: number): T;
  /** rows of x [R, …] at index [B] (int32): [B, …]; the same as gather, computed as suits a large row */
  gatherRows(x: T, index: T): T;
  /** x [N, H, W, C] · w [k, k, C, C′] with stride s and TensorFlow's 'same' padding (the odd pixel after) */
  conv2d(x: T, w: T, stride: number): T;
  /** x [N, H, W, C] → [N, ⌊H/2⌋, ⌊W/2⌋, C]: the largest value of each 2×2 block ('valid') */
  maxPool2x2(x: T): T;
  /** over every axis but the last: batch statistics in training (updating the running ones), running statistics otherwise */
  batchNorm(x: T, bn: BatchNormVariables): T;
  /** (x − mean) / √(variance + ε) over the last axis */
  standardize(x: T, eps: number): T;
  dropout(x: T, rate: number): T;
}
