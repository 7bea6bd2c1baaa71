import { tf } from '../backend/tf.ts';
import { BatchNorm, Conv2d } from '../model/layers.ts';
import type { ParamStore } from '../model/params.ts';

/** Conv blocks (3×3 conv, batch norm, ReLU) with the given widths and strides: image → feature map. */
export class ConvTrunk {
  private readonly convs: Conv2d[] = [];
  private readonly norms: BatchNorm[] = [];
  readonly outChannels: number;

  constructor(store: ParamStore, prefix: string, channels: number[], strides: number[]) {
    let inCh = 3;
    channels.forEach((outCh, i) => {
      this.convs.push(new Conv2d(store, `${prefix}.conv${i}`, inCh, outCh, 3, strides[i]!));
      this.norms.push(new BatchNorm(store, `${prefix}.bn${i}`, outCh));
      inCh = outCh;
    });
    this.outChannels = inCh;
  }

  apply(images: tf.Tensor4D, training: boolean): tf.Tensor4D {
    let x = images;
    this.convs.forEach((conv, i) => {
      x = tf.relu(this.norms[i]!.apply(conv.apply(x), training)) as tf.Tensor4D;
    });
    return x;
  }
}
