import { tf } from '../backend/tf.ts';
import { EagerOps } from '../nn/eager_ops.ts';
import { BatchNorm, Conv2d } from '../nn/layers.ts';
import type { BatchNormVariables, Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';

/** How a trunk is built besides its widths and strides. */
export interface TrunkOptions {
  /** 3 (RGB), or more that a module adds */
  inputChannels?: number;
  /** a stride of 2 as the convolution's stride, or as a stride-1 convolution then a 2×2 max pool (the classic CNN) */
  pool?: 'stride' | 'max';
  /** batch norm after each convolution (else the convolution has a bias) */
  batchNorm?: boolean;
  /** the convolutions' initial weights (model.vision.init) */
  init?: 'he' | 'fan-in-uniform';
}

/** Conv blocks (3×3 conv, batch norm, ReLU; or a max pool where `pool` says) with the given widths and strides: image → feature map. */
export class ConvTrunk {
  private readonly convs: Conv2d[] = [];
  private readonly norms: BatchNorm[] = [];
  private readonly pooled: boolean[];
  readonly outChannels: number;
  /** each block's width: the channels of the maps `maps` returns */
  readonly channels: readonly number[];

  constructor(store: ParamStore, prefix: string, channels: number[], strides: number[], { inputChannels = 3, pool = 'stride', batchNorm = true, init = 'he' }: TrunkOptions = {}) {
    let inCh = inputChannels;
    this.pooled = strides.map((s) => pool === 'max' && s === 2);
    channels.forEach((outCh, i) => {
      this.convs.push(new Conv2d(store, `${prefix}.conv${i}`, inCh, outCh, 3, this.pooled[i] ? 1 : strides[i]!, !batchNorm, init));
      if (batchNorm) this.norms.push(new BatchNorm(store, `${prefix}.bn${i}`, outCh));
      inCh = outCh;
    });
    this.outChannels = inCh;
    this.channels = [...channels];
  }

  /** images [N, H, W, C] → the last feature map [N, h, w, C′] */
  forward<T>(o: Ops<T>, images: T): T {
    return this.maps(o, images).at(-1)!;
  }

  /** images [N, H, W, C] → every block's feature map, first to last */
  maps<T>(o: Ops<T>, images: T): T[] {
    const out: T[] = [];
    this.convs.reduce((x, conv, i) => {
      const convolved = conv.forward(o, x);
      const y = o.relu(this.norms[i] ? this.norms[i].forward(o, convolved) : convolved);
      out.push(this.pooled[i] ? o.maxPool2x2(y) : y);
      return out.at(-1)!;
    }, images);
    return out;
  }

  /**
   * Replaces every batch norm's running statistics by the mean of the batch statistics over
   * `batches` with the current weights ("precise BN"). The running averages of training trail the
   * weights by many steps, and the net can be sensitive enough to that lag that evaluation with
   * them falls to the answer prior while batch statistics track training (docs/experiments.md).
   * Each layer sees the batch normalised by its own statistics below it, as in training.
   */
  recalibrate(batches: Iterable<tf.Tensor4D>): void {
    const sums = new Map<BatchNormVariables, { mean: tf.Tensor; variance: tf.Tensor }>();
    const collect = new EagerOps(false, (bn, mean, variance) => {
      const sum = sums.get(bn);
      sums.set(bn, { mean: tf.keep(sum ? tf.add(sum.mean, mean) : tf.clone(mean)), variance: tf.keep(sum ? tf.add(sum.variance, variance) : tf.clone(variance)) });
      if (sum) tf.dispose([sum.mean, sum.variance]);
    });
    let count = 0;
    try {
      for (const images of batches) {
        tf.tidy(() => {
          this.forward(collect, images);
        });
        count++;
      }
      if (count === 0) throw new Error('batch-norm recalibration needs at least one batch');
      for (const [bn, sum] of sums) {
        tf.tidy(() => {
          bn.runningMean.assign(tf.div(sum.mean, count));
          bn.runningVar.assign(tf.div(sum.variance, count));
        });
      }
    } finally {
      tf.dispose([...sums.values()].flatMap((s) => [s.mean, s.variance]));
    }
  }
}
