// Simple fusions beside MFB/MFH, for ablations: concatenation + MLP, elementwise product,
// the full bilinear (outer) product, and the low-rank bilinear form.
import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { l2Normalize as onnxL2Normalize, signedSqrt as onnxSignedSqrt, sumPool as onnxSumPool } from '../nn/onnx_ops.ts';
import { Dense } from '../nn/layers.ts';
import { dropout, l2Normalize, matMul, signedSqrt } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import type { MfbShape } from './mfb.ts';

/** z = W₂ ReLU(W₁ [x; y] + b₁) + b₂, width o. */
export class ConcatFusion {
  private readonly hidden: Dense;
  private readonly out: Dense;

  constructor(
    store: ParamStore,
    name: string,
    xDim: number,
    yDim: number,
    private readonly shape: MfbShape,
  ) {
    this.hidden = new Dense(store, `${name}.hidden`, xDim + yDim, shape.o);
    this.out = new Dense(store, `${name}.out`, shape.o, shape.o);
  }

  get outDim(): number {
    return this.shape.o;
  }

  apply(x: tf.Tensor, y: tf.Tensor, training: boolean): tf.Tensor {
    return this.out.apply(dropout(tf.relu(this.hidden.apply(tf.concat([x, y], -1))), this.shape.dropout, training));
  }

  toOnnx(g: OnnxGraph, x: Value, y: Value): Value {
    return this.out.toOnnx(g, g.op('Relu', [this.hidden.toOnnx(g, g.op('Concat', [x, y], { axis: { int: -1 } }))]));
  }
}

/** z = (Wₓx + bₓ) ⊙ (Wᵧy + bᵧ), width o. */
export class ProductFusion {
  readonly projectX: Dense;
  readonly projectY: Dense;

  constructor(
    store: ParamStore,
    name: string,
    xDim: number,
    yDim: number,
    private readonly shape: MfbShape,
  ) {
    this.projectX = new Dense(store, `${name}.x`, xDim, shape.o);
    this.projectY = new Dense(store, `${name}.y`, yDim, shape.o);
  }

  get outDim(): number {
    return this.shape.o;
  }

  apply(x: tf.Tensor, y: tf.Tensor, training: boolean): tf.Tensor {
    return dropout(tf.mul(this.projectX.apply(x), this.projectY.apply(y)), this.shape.dropout, training);
  }

  toOnnx(g: OnnxGraph, x: Value, y: Value): Value {
    return g.op('Mul', [this.projectX.toOnnx(g, x), this.projectY.toOnnx(g, y)]);
  }
}

/** Above this many features per sample the full bilinear product is refused. */
export const MAX_BILINEAR_FEATURES = 1 << 22;

/**
 * The original bilinear pooling (Lin et al. 2015): z = vec(x yᵀ), then sign(z)√|z| and z/‖z‖₂.
 * Width m·n: for small inputs only.
 */
export class BilinearFusion {
  constructor(
    private readonly xDim: number,
    private readonly yDim: number,
    private readonly rate: number,
  ) {
    const n = xDim * yDim;
    if (n > MAX_BILINEAR_FEATURES) {
      throw new Error(
        `bilinear fusion: ${xDim}×${yDim} = ${n} features per sample (over ${MAX_BILINEAR_FEATURES}) would not fit in memory; use lowrank, mfb or mfh, or smaller widths`,
      );
    }
  }

  get outDim(): number {
    return this.xDim * this.yDim;
  }

  /** vec(x yᵀ) without normalisation, row-major: index a·n + b holds x[a]·y[b]. */
  static outer(x: tf.Tensor, y: tf.Tensor): tf.Tensor {
    const lead = x.shape.slice(0, -1);
    const m = x.shape.at(-1)!;
    const n = y.shape.at(-1)!;
    return tf.reshape(tf.mul(tf.expandDims(x, -1), tf.expandDims(y, -2)), [...lead, m * n]);
  }

  apply(x: tf.Tensor, y: tf.Tensor, training: boolean): tf.Tensor {
    return l2Normalize(signedSqrt(dropout(BilinearFusion.outer(x, y), this.rate, training)), [-1]);
  }

  /** x [B, m], y [B, n] */
  toOnnx(g: OnnxGraph, x: Value, y: Value): Value {
    const outer = g.reshape(g.op('Mul', [g.unsqueeze(x, [-1]), g.unsqueeze(y, [-2])]), [0, this.xDim * this.yDim]);
    return onnxL2Normalize(g, onnxSignedSqrt(g, outer), [-1]);
  }
}

/**
 * Low-rank bilinear (Kong & Fowlkes 2017; Pirsiavash et al. 2009): z_i = xᵀ U_i V_iᵀ y with
 * U_i, V_i of rank r (= shape.k), computed as Σ_j (U_i[:, j]ᵀx)(V_i[:, j]ᵀy) without forming W_i.
 */
export class LowRankBilinearFusion {
  readonly u: tf.Variable;
  readonly v: tf.Variable;

  constructor(
    store: ParamStore,
    private readonly name: string,
    xDim: number,
    yDim: number,
    private readonly shape: MfbShape,
  ) {
    this.u = store.add(`${name}.u`, [xDim, shape.o * shape.k], 'glorot');
    this.v = store.add(`${name}.v`, [yDim, shape.o * shape.k], 'glorot');
  }

  get outDim(): number {
    return this.shape.o;
  }

  apply(x: tf.Tensor, y: tf.Tensor, training: boolean): tf.Tensor {
    const { o, k } = this.shape;
    const xu = matMul(tf.reshape(x, [-1, x.shape.at(-1)!]), this.u);
    const yv = matMul(tf.reshape(y, [-1, y.shape.at(-1)!]), this.v);
    const z = tf.sum(tf.reshape(dropout(tf.mul(xu, yv), this.shape.dropout, training), [-1, o, k]), -1);
    return tf.reshape(z, [...x.shape.slice(0, -1), o]);
  }

  /** x [B, m], y [B, n] */
  toOnnx(g: OnnxGraph, x: Value, y: Value): Value {
    const xu = g.op('MatMul', [x, g.tensor(`${this.name}.u`, this.u)]);
    const yv = g.op('MatMul', [y, g.tensor(`${this.name}.v`, this.v)]);
    return onnxSumPool(g, g.op('Mul', [xu, yv]), 2, this.shape.k, this.shape.o);
  }
}
