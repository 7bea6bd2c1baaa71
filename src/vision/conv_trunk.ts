import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { BatchNorm, Conv2d } from '../nn/layers.ts';
import type { ParamStore } from '../nn/params.ts';

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

  /** NCHW images of side `inSize` → the last feature map (NCHW) and its side. */
  toOnnx(g: OnnxGraph, images: Value, inSize: number): { value: Value; size: number } {
    let x = { value: images, size: inSize };
    this.convs.forEach((conv, i) => {
      const folded = conv.toOnnxWithNorm(g, x.value, this.norms[i]!, x.size);
      x = { value: g.op('Relu', [folded.value]), size: folded.size };
    });
    return x;
  }
}
