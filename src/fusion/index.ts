import type { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import type { ParamStore } from '../nn/params.ts';
import type { FusionKind } from './kinds.ts';
import { Mfb, type MfbShape } from './mfb.ts';
import { Mfh } from './mfh.ts';
import { BilinearFusion, ConcatFusion, LowRankBilinearFusion, ProductFusion } from './baselines.ts';

export { Mfb, sumPoolSqrt, type MfbShape } from './mfb.ts';
export { Mfh } from './mfh.ts';
export { BilinearFusion, ConcatFusion, LowRankBilinearFusion, MAX_BILINEAR_FEATURES, ProductFusion } from './baselines.ts';

/** A fusion of two vectors into one, as used for the final question–image fusion. */
export interface Fusion {
  readonly outDim: number;
  apply(x: tf.Tensor, y: tf.Tensor, training: boolean): tf.Tensor;
  /** The same fusion in inference mode, for x [B, m] and y [B, n]. */
  toOnnx(g: OnnxGraph, x: Value, y: Value): Value;
  /**
   * Every region of each question's image fused with the question, before any normalisation:
   * regions of the distinct images [I, N, m], the image of each question [B], y [B, n] →
   * [B, N, outDim]. A fusion offers this when it can transform each image's regions once rather
   * than once per question (MFB); the image attention fuses every pair with `apply` otherwise.
   */
  fuseRegions?(perImage: tf.Tensor, imageIndex: tf.Tensor1D, y: tf.Tensor, training: boolean): tf.Tensor;
  fuseRegionsToOnnx?(g: OnnxGraph, perImage: Value, imageIndex: Value, y: Value): Value;
}

export { FUSION_KINDS, type FusionKind } from './kinds.ts';

/** `shape.k` is MFB's factor count and lowrank's rank; `shape.o` the output width (bilinear: m·n). */
export function createFusion(kind: FusionKind, store: ParamStore, name: string, xDim: number, yDim: number, shape: MfbShape): Fusion {
  switch (kind) {
    case 'mfb':
      return new Mfb(store, name, xDim, yDim, shape);
    case 'mfh':
      return new Mfh(store, name, xDim, yDim, shape);
    case 'concat':
      return new ConcatFusion(store, name, xDim, yDim, shape);
    case 'product':
      return new ProductFusion(store, name, xDim, yDim, shape);
    case 'bilinear':
      return new BilinearFusion(xDim, yDim, shape.dropout);
    case 'lowrank':
      return new LowRankBilinearFusion(store, name, xDim, yDim, shape);
  }
}
