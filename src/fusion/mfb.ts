import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { l2Normalize as onnxL2Normalize, signedSqrt as onnxSignedSqrt, sumPool as onnxSumPool } from '../nn/onnx_ops.ts';
import { Dense } from '../nn/layers.ts';
import { dropout, gatherRows, l2Normalize, signedSqrt } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';

export interface MfbShape {
  k: number;
  o: number;
  dropout: number;
}

/** z[i] = Σ_{j<k} e[i·k + j]: o contiguous groups of k. */
export function sumPool(e: tf.Tensor, k: number, o: number): tf.Tensor {
  const lead = e.shape.slice(0, -1);
  return tf.sum(tf.reshape(e, [...lead, o, k]), -1);
}

/** The sum pool, then the signed square root. */
export function sumPoolSqrt(e: tf.Tensor, k: number, o: number): tf.Tensor {
  return signedSqrt(sumPool(e, k, o));
}

/**
 * Multimodal factorized bilinear pooling (Yu et al., ICCV 2017):
 * x′ = Wₓx + bₓ, y′ = Wᵧy + bᵧ (k·o each), e = dropout(x′ ⊙ y′), z = sum-pool over k,
 * z ← sign(z)√|z|, z ← z / ‖z‖₂.
 */
export class Mfb {
  readonly projectX: Dense;
  readonly projectY: Dense;

  constructor(
    store: ParamStore,
    name: string,
    xDim: number,
    yDim: number,
    readonly shape: MfbShape,
  ) {
    this.projectX = new Dense(store, `${name}.x`, xDim, shape.k * shape.o);
    this.projectY = new Dense(store, `${name}.y`, yDim, shape.k * shape.o);
  }

  get outDim(): number {
    return this.shape.o;
  }

  /** e = dropout(x′ ⊙ y′); x′ and y′ broadcast against each other. */
  expand(xProjected: tf.Tensor, yProjected: tf.Tensor, training: boolean): tf.Tensor {
    return dropout(tf.mul(xProjected, yProjected), this.shape.dropout, training);
  }

  pool(e: tf.Tensor): tf.Tensor {
    return sumPoolSqrt(e, this.shape.k, this.shape.o);
  }

  /** `pool` without the signed square root. */
  sumPool(e: tf.Tensor): tf.Tensor {
    return sumPool(e, this.shape.k, this.shape.o);
  }

  /** x [B, m], y [B, n] → [B, o], L2-normalised per sample. */
  apply(x: tf.Tensor, y: tf.Tensor, training: boolean): tf.Tensor {
    const e = this.expand(this.projectX.apply(x), this.projectY.apply(y), training);
    return l2Normalize(this.pool(e), [-1]);
  }

  /** Σ over k of (Wₓ rₙ + bₓ) ⊙ (Wᵧ y + bᵧ) per region, Wₓ rₙ computed once per image: [B, N, o]. */
  fuseRegions(perImage: tf.Tensor, imageIndex: tf.Tensor1D, y: tf.Tensor, training: boolean): tf.Tensor {
    const regionsProjected = gatherRows(this.projectX.apply(perImage), imageIndex); // [B, N, k·o]
    return this.sumPool(this.expand(regionsProjected, tf.expandDims(this.projectY.apply(y), 1), training));
  }

  fuseRegionsToOnnx(g: OnnxGraph, perImage: Value, imageIndex: Value, y: Value): Value {
    const regionsProjected = g.op('Gather', [this.projectX.toOnnx(g, perImage), imageIndex], { axis: { int: 0 } });
    return onnxSumPool(g, g.op('Mul', [regionsProjected, g.unsqueeze(this.projectY.toOnnx(g, y), [1])]), 3, this.shape.k, this.shape.o);
  }

  /** `pool` for an expanded product of rank `rank`. */
  poolToOnnx(g: OnnxGraph, e: Value, rank: number): Value {
    return onnxSignedSqrt(g, onnxSumPool(g, e, rank, this.shape.k, this.shape.o));
  }

  toOnnx(g: OnnxGraph, x: Value, y: Value): Value {
    const e = g.op('Mul', [this.projectX.toOnnx(g, x), this.projectY.toOnnx(g, y)]);
    return onnxL2Normalize(g, this.poolToOnnx(g, e, 2), [-1]);
  }
}
