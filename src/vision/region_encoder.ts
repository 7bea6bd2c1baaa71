import type { tf } from '../backend/tf.ts';
import type { Ops } from '../nn/ops.ts';

/** What every image encoder gives the network: regions [I, N, d] from its input. */
export interface RegionEncoder {
  /** pixels [I, H, W, 3] (normalised) or pretrained region features [I, N, C] → regions [I, N, d] */
  forward<T>(o: Ops<T>, input: T): T;
  /** re-estimates batch-norm statistics from batches of images; absent where there is no batch norm */
  recalibrate?(imageBatches: Iterable<tf.Tensor4D>): void;
}
