import type { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';

/** What every image encoder gives the network: regions [I, N, d] from its input, in tfjs and as ONNX nodes. */
export interface RegionEncoder {
  /** pixels [I, H, W, 3] (normalised) or pretrained region features [I, N, C] → regions [I, N, d] */
  apply(input: tf.Tensor, training: boolean): tf.Tensor3D;
  /** the same in inference mode */
  toOnnx(g: OnnxGraph, input: Value): Value;
  /** re-estimates batch-norm statistics from batches of images; absent where there is no batch norm */
  recalibrate?(imageBatches: Iterable<tf.Tensor4D>): void;
}
