import { samePadding } from '../backend/conv_padding.ts';
import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from './onnx_graph.ts';
import { matMul, standardize } from './ops.ts';
import type { ParamStore } from './params.ts';

/** y = x·W + b over the last axis of x. */
export class Dense {
  readonly w: tf.Variable;
  readonly b: tf.Variable;

  constructor(
    store: ParamStore,
    readonly name: string,
    readonly inDim: number,
    readonly outDim: number,
  ) {
    this.w = store.add(`${name}.w`, [inDim, outDim], 'glorot');
    this.b = store.add(`${name}.b`, [outDim], 'zeros');
  }

  apply(x: tf.Tensor): tf.Tensor {
    const lead = x.shape.slice(0, -1);
    const flat = tf.reshape(x, [-1, this.inDim]);
    return tf.reshape(tf.add(matMul(flat, this.w), this.b), [...lead, this.outDim]);
  }

  /** ONNX MatMul broadcasts over the leading axes, so no reshape is needed. */
  toOnnx(g: OnnxGraph, x: Value): Value {
    return g.op('Add', [g.op('MatMul', [x, g.tensor(`${this.name}.w`, this.w)]), g.tensor(`${this.name}.b`, this.b)]);
  }
}

export class LayerNorm {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;

  constructor(
    store: ParamStore,
    readonly name: string,
    dim: number,
    private readonly eps = 1e-5,
  ) {
    this.gamma = store.add(`${name}.gamma`, [dim], 'ones');
    this.beta = store.add(`${name}.beta`, [dim], 'zeros');
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.add(tf.mul(standardize(x, this.eps), this.gamma), this.beta);
  }

  toOnnx(g: OnnxGraph, x: Value): Value {
    const gamma = g.tensor(`${this.name}.gamma`, this.gamma);
    return g.op('LayerNormalization', [x, gamma, g.tensor(`${this.name}.beta`, this.beta)], { axis: { int: -1 }, epsilon: { float: this.eps } });
  }
}

/** Batch norm over all axes but the last; running statistics are updated in training mode. */
export class BatchNorm {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;

  constructor(
    store: ParamStore,
    name: string,
    dim: number,
    private readonly momentum = 0.9,
    readonly eps = 1e-5,
  ) {
    this.gamma = store.add(`${name}.gamma`, [dim], 'ones');
    this.beta = store.add(`${name}.beta`, [dim], 'zeros');
    this.runningMean = store.add(`${name}.running_mean`, [dim], 'zeros', false);
    this.runningVar = store.add(`${name}.running_var`, [dim], 'ones', false);
  }

  apply(x: tf.Tensor, training: boolean): tf.Tensor {
    if (!training) return this.normalize(x, this.runningMean, this.runningVar);
    const { mean, variance } = this.batchMoments(x);
    const m = this.momentum;
    tf.tidy(() => {
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, m), tf.mul(mean, 1 - m)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, m), tf.mul(variance, 1 - m)));
    });
    return this.normalize(x, mean, variance);
  }

  /** The batch's mean and (biased) variance per channel, over every axis but the last. */
  batchMoments(x: tf.Tensor): { mean: tf.Tensor; variance: tf.Tensor } {
    return tf.moments(
      x,
      x.shape.slice(0, -1).map((_, i) => i),
    );
  }

  normalize(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor): tf.Tensor {
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, this.eps))), this.gamma), this.beta);
  }
}

export class Conv2d {
  readonly w: tf.Variable;

  constructor(
    store: ParamStore,
    readonly name: string,
    inCh: number,
    outCh: number,
    readonly size: number,
    readonly stride: number,
  ) {
    this.w = store.add(`${name}.w`, [size, size, inCh, outCh], 'he');
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.conv2d(x, this.w as tf.Tensor4D, this.stride, 'same');
  }

  /**
   * The conv followed by `norm` in inference mode, folded into one ONNX Conv (NCHW) with a bias:
   * w′ = w·s, b′ = β − μ·s with s = γ/√(σ² + ε). `inSize` is the input's side; returns the output's.
   */
  toOnnxWithNorm(g: OnnxGraph, x: Value, norm: BatchNorm, inSize: number): { value: Value; size: number } {
    const { size: k, stride } = this;
    const outSize = Math.ceil(inSize / stride);
    const [before, after] = samePadding(inSize, k, stride);
    const [w, b] = tf.tidy(() => {
      const scale = tf.div(norm.gamma, tf.sqrt(tf.add(norm.runningVar, norm.eps)));
      return [tf.transpose(tf.mul(this.w, scale), [3, 2, 0, 1]), tf.sub(norm.beta, tf.mul(norm.runningMean, scale))];
    });
    try {
      const value = g.op('Conv', [x, g.tensor(`${this.name}.w_folded`, w), g.tensor(`${this.name}.b_folded`, b)], {
        kernel_shape: { ints: [k, k] },
        strides: { ints: [stride, stride] },
        pads: { ints: [before, before, after, after] },
      });
      return { value, size: outSize };
    } finally {
      tf.dispose([w, b]);
    }
  }
}
