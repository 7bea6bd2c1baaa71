import { tf } from '../backend/tf.ts';
import { ParamStore } from '../nn/params.ts';
import { ConvTrunk } from '../vision/conv_trunk.ts';
import type { ClassifierConfig } from './config.ts';
import { AverageHead, BilinearHead, CompactHead, LowRankHead, type Head } from './heads.ts';

/** Conv trunk → pooling head over its locations → class scores. */
export class ClassifierNet {
  readonly store: ParamStore;
  private readonly trunk: ConvTrunk;
  private readonly head: Head;

  constructor(
    readonly cfg: ClassifierConfig,
    classes: number,
  ) {
    this.store = new ParamStore(cfg.train.seed);
    const m = cfg.model;
    this.trunk = new ConvTrunk(this.store, 'trunk', m.channels, m.strides);
    const c = this.trunk.outChannels;
    this.head =
      m.head === 'average'
        ? new AverageHead(this.store, c, classes)
        : m.head === 'bilinear'
          ? new BilinearHead(this.store, c, classes)
          : m.head === 'lowrank'
            ? new LowRankHead(this.store, c, classes, m.rank)
            : new CompactHead(this.store, c, classes, m.compactDim, cfg.train.seed);
  }

  /** images [B, H, W, 3] normalised → logits [B, K] */
  forward(images: tf.Tensor4D, training: boolean): tf.Tensor2D {
    const f = this.trunk.apply(images, training);
    const [b, h, w, c] = f.shape;
    return this.head.apply(tf.reshape(f, [b, h * w, c]) as tf.Tensor3D);
  }

  dispose(): void {
    this.store.dispose();
  }
}
