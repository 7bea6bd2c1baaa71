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

  /**
   * Replaces every batch norm's running statistics by the mean of the batch statistics over
   * `batches` with the current weights ("precise BN"). The running averages of training trail the
   * weights by many steps, and the net can be sensitive enough to that lag that evaluation with
   * them falls to the answer prior while batch statistics track training (docs/experiments.md).
   * Each layer sees the batch normalised by its own statistics below it, as in training.
   */
  recalibrate(batches: Iterable<tf.Tensor4D>): void {
    const sums: { mean: tf.Tensor; variance: tf.Tensor }[] = this.norms.map((n) => ({ mean: tf.zerosLike(n.runningMean), variance: tf.zerosLike(n.runningVar) }));
    let count = 0;
    try {
      for (const images of batches) {
        tf.tidy(() => {
          let x = images;
          this.convs.forEach((conv, i) => {
            const y = conv.apply(x);
            const { mean, variance } = this.norms[i]!.batchMoments(y);
            const sum = sums[i]!;
            const [m, v] = [tf.add(sum.mean, mean), tf.add(sum.variance, variance)];
            tf.dispose([sum.mean, sum.variance]);
            sums[i] = { mean: tf.keep(m), variance: tf.keep(v) };
            x = tf.relu(this.norms[i]!.normalize(y, mean, variance)) as tf.Tensor4D;
          });
        });
        count++;
      }
      if (count === 0) throw new Error('batch-norm recalibration needs at least one batch');
      this.norms.forEach((n, i) => {
        tf.tidy(() => {
          n.runningMean.assign(tf.div(sums[i]!.mean, count));
          n.runningVar.assign(tf.div(sums[i]!.variance, count));
        });
      });
    } finally {
      tf.dispose(sums.flatMap((s) => [s.mean, s.variance]));
    }
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
