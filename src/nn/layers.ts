import type { tf } from '../backend/tf.ts';
import type { BatchNormVariables, Ops } from './ops.ts';
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

  forward<T>(o: Ops<T>, x: T): T {
    return o.add(o.matMul(x, o.param(this.w)), o.param(this.b));
  }
}

/** Standardised over the last axis, then a learned scale and shift. */
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

  forward<T>(o: Ops<T>, x: T): T {
    return o.add(o.mul(o.standardize(x, this.eps), o.param(this.gamma)), o.param(this.beta));
  }
}

/** Batch norm over all axes but the last; running statistics are updated in training mode. */
export class BatchNorm {
  readonly variables: BatchNormVariables;

  constructor(store: ParamStore, name: string, dim: number, momentum = 0.9, eps = 1e-5) {
    this.variables = {
      gamma: store.add(`${name}.gamma`, [dim], 'ones'),
      beta: store.add(`${name}.beta`, [dim], 'zeros'),
      runningMean: store.add(`${name}.running_mean`, [dim], 'zeros', false),
      runningVar: store.add(`${name}.running_var`, [dim], 'ones', false),
      eps,
      momentum,
    };
  }

  forward<T>(o: Ops<T>, x: T): T {
    return o.batchNorm(x, this.variables);
  }
}

/** A k×k convolution with TensorFlow's 'same' padding, no bias (a batch norm follows it). */
export class Conv2d {
  readonly w: tf.Variable;
  /** a bias per output channel, where no batch norm follows to shift the output */
  readonly b?: tf.Variable;

  constructor(
    store: ParamStore,
    readonly name: string,
    inCh: number,
    outCh: number,
    readonly size: number,
    readonly stride: number,
    bias = false,
    init: 'he' | 'fan-in-uniform' = 'he',
  ) {
    this.w = store.add(`${name}.w`, [size, size, inCh, outCh], init);
    if (bias) this.b = store.add(`${name}.b`, [outCh], 'zeros');
  }

  /** x [N, H, W, C] → [N, ⌈H/s⌉, ⌈W/s⌉, C′] */
  forward<T>(o: Ops<T>, x: T): T {
    const y = o.conv2d(x, o.param(this.w), this.stride);
    return this.b ? o.add(y, o.param(this.b)) : y;
  }
}
