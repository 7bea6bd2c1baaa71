import { tf } from '../backend/tf.ts';
import { matMul } from './ops.ts';
import type { ParamStore } from './params.ts';

/** y = x·W + b over the last axis of x. */
export class Dense {
  readonly w: tf.Variable;
  readonly b: tf.Variable;

  constructor(store: ParamStore, name: string, readonly inDim: number, readonly outDim: number) {
    this.w = store.add(`${name}.w`, [inDim, outDim], 'glorot');
    this.b = store.add(`${name}.b`, [outDim], 'zeros');
  }

  apply(x: tf.Tensor): tf.Tensor {
    const lead = x.shape.slice(0, -1);
    const flat = tf.reshape(x, [-1, this.inDim]);
    return tf.reshape(tf.add(matMul(flat, this.w), this.b), [...lead, this.outDim]);
  }
}

export class LayerNorm {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;

  constructor(store: ParamStore, name: string, dim: number, private readonly eps = 1e-5) {
    this.gamma = store.add(`${name}.gamma`, [dim], 'ones');
    this.beta = store.add(`${name}.beta`, [dim], 'zeros');
  }

  apply(x: tf.Tensor): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, this.eps))), this.gamma), this.beta);
  }
}

/** Batch norm over all axes but the last; running statistics are updated in training mode. */
export class BatchNorm {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;

  constructor(store: ParamStore, name: string, dim: number, private readonly momentum = 0.9, private readonly eps = 1e-5) {
    this.gamma = store.add(`${name}.gamma`, [dim], 'ones');
    this.beta = store.add(`${name}.beta`, [dim], 'zeros');
    this.runningMean = store.add(`${name}.running_mean`, [dim], 'zeros', false);
    this.runningVar = store.add(`${name}.running_var`, [dim], 'ones', false);
  }

  apply(x: tf.Tensor, training: boolean): tf.Tensor {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    let mean: tf.Tensor = this.runningMean;
    let variance: tf.Tensor = this.runningVar;
    if (training) {
      ({ mean, variance } = tf.moments(x, axes));
      const m = this.momentum;
      const [bm, bv] = [mean, variance];
      tf.tidy(() => {
        this.runningMean.assign(tf.add(tf.mul(this.runningMean, m), tf.mul(bm, 1 - m)));
        this.runningVar.assign(tf.add(tf.mul(this.runningVar, m), tf.mul(bv, 1 - m)));
      });
    }
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, this.eps))), this.gamma), this.beta);
  }
}

export class Conv2d {
  readonly w: tf.Variable;

  constructor(store: ParamStore, name: string, inCh: number, outCh: number, readonly size: number, readonly stride: number) {
    this.w = store.add(`${name}.w`, [size, size, inCh, outCh], 'he');
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.conv2d(x, this.w as tf.Tensor4D, this.stride, 'same');
  }
}
