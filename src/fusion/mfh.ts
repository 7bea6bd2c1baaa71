import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { l2Normalize as onnxL2Normalize } from '../nn/onnx_ops.ts';
import { l2Normalize } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import { Mfb, type MfbShape } from './mfb.ts';

/**
 * MFH with p = 2 cascaded MFB blocks (Yu et al., TNNLS 2018): block 2 multiplies its own
 * projections with block 1's expanded, dropped-out product; the output is [z₁; z₂].
 */
export class Mfh {
  private readonly block1: Mfb;
  private readonly block2: Mfb;

  constructor(store: ParamStore, name: string, xDim: number, yDim: number, shape: MfbShape) {
    this.block1 = new Mfb(store, `${name}.block1`, xDim, yDim, shape);
    this.block2 = new Mfb(store, `${name}.block2`, xDim, yDim, shape);
  }

  get outDim(): number {
    return 2 * this.block1.shape.o;
  }

  apply(x: tf.Tensor, y: tf.Tensor, training: boolean): tf.Tensor {
    const e1 = this.block1.expand(this.block1.projectX.apply(x), this.block1.projectY.apply(y), training);
    const x2y2 = tf.mul(this.block2.projectX.apply(x), this.block2.projectY.apply(y));
    const e2 = this.block2.expand(x2y2, e1, training);
    const z1 = l2Normalize(this.block1.pool(e1), [-1]);
    const z2 = l2Normalize(this.block2.pool(e2), [-1]);
    return tf.concat([z1, z2], -1);
  }

  toOnnx(g: OnnxGraph, x: Value, y: Value): Value {
    const [b1, b2] = [this.block1, this.block2];
    const e1 = g.op('Mul', [b1.projectX.toOnnx(g, x), b1.projectY.toOnnx(g, y)]);
    const e2 = g.op('Mul', [g.op('Mul', [b2.projectX.toOnnx(g, x), b2.projectY.toOnnx(g, y)]), e1]);
    const z1 = onnxL2Normalize(g, b1.poolToOnnx(g, e1, 2), [-1]);
    const z2 = onnxL2Normalize(g, b2.poolToOnnx(g, e2, 2), [-1]);
    return g.op('Concat', [z1, z2], { axis: { int: -1 } });
  }
}
