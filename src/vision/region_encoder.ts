import type { tf } from '../backend/tf.ts';
import type { Ops } from '../nn/ops.ts';

/** What an image encoder computes: the regions, and the feature maps on the way (none for pretrained features). */
export interface Encoded<T> {
  /** [I, N, d] */
  regions: T;
  /** each conv block's output [I, h, w, C], first to last */
  maps: T[];
}

/** What every image encoder gives the network: regions [I, N, d] from its input. */
export interface RegionEncoder {
  /** the widths of the maps `encode` returns */
  readonly mapChannels: readonly number[];
  /** pixels [I, H, W, 3] (normalised) or pretrained region features [I, N, C] → regions [I, N, d] */
  forward<T>(o: Ops<T>, input: T): T;
  /** the regions and the maps they were computed from */
  encode<T>(o: Ops<T>, input: T): Encoded<T>;
  /** re-estimates batch-norm statistics from batches of images; absent where there is no batch norm */
  recalibrate?(imageBatches: Iterable<tf.Tensor4D>): void;
}
