import type { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';

/** What every question encoder gives the network: one vector of width d per token, in tfjs and as ONNX nodes. */
export interface TokenEncoder {
  /** token ids [B, T] int32 (transformer) or pretrained token states [B, T, C], mask [B, T] → states [B, T, d] */
  apply(tokens: tf.Tensor, mask: tf.Tensor2D, training: boolean): tf.Tensor3D;
  toOnnx(g: OnnxGraph, tokens: Value, mask: Value): Value;
  /** each token's vector before this encoder mixes the words: [B, T, d] */
  tokenVectors(tokens: tf.Tensor): tf.Tensor3D;
  tokenVectorsToOnnx(g: OnnxGraph, tokens: Value): Value;
}
