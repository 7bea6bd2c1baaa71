import { tf } from '../backend/tf.ts';
import { Mfb } from '../fusion/mfb.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { l2Normalize as onnxL2Normalize, sumPool as onnxSumPool } from '../nn/onnx_ops.ts';
import { l2Normalize } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';

/**
 * The objects hop 1's first two glimpses pooled, multiplied: s·z/‖z‖ with z the MFB sum pool of
 * (Wₐa + bₐ) ⊙ (W_b b + b_b) (no signed square root). "Does the A have the same colour as the B?"
 * asks for a product of the two objects' features, which the final fusion, linear in its image
 * input for a given question, cannot form; `scale` lets it be heard beside the fusion's other
 * inputs, as the places (docs/experiments.md §11).
 */
export class GlimpsePair {
  private readonly mfb: Mfb;

  constructor(
    store: ParamStore,
    private readonly d: number,
    shape: { k: number; o: number },
    private readonly scale: number,
  ) {
    this.mfb = new Mfb(store, 'pair', d, d, { ...shape, dropout: 0 });
  }

  get outDim(): number {
    return this.mfb.outDim;
  }

  /** hop 1's pooled objects [B, G·d], G ≥ 2 → [B, o] */
  apply(objects: tf.Tensor2D): tf.Tensor2D {
    const [a, b] = [0, 1].map((g) => tf.slice(objects, [0, g * this.d], [-1, this.d]));
    const z = this.mfb.sumPool(tf.mul(this.mfb.projectX.apply(a!), this.mfb.projectY.apply(b!)));
    return tf.mul(l2Normalize(z, [-1]), this.scale) as tf.Tensor2D;
  }

  toOnnx(g: OnnxGraph, objects: Value): Value {
    const [a, b] = [0, 1].map((i) => g.op('Slice', [objects, g.int64s([i * this.d]), g.int64s([(i + 1) * this.d]), g.int64s([1])]));
    const e = g.op('Mul', [this.mfb.projectX.toOnnx(g, a!), this.mfb.projectY.toOnnx(g, b!)]);
    const { k, o } = this.mfb.shape;
    return g.op('Mul', [onnxL2Normalize(g, onnxSumPool(g, e, 2, k, o), [-1]), g.scalar(this.scale)]);
  }
}
