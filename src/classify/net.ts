import { tf } from '../backend/tf.ts';
import type { Ops } from '../nn/ops.ts';
import { ParamStore } from '../nn/params.ts';
import { ConvTrunk } from '../vision/conv_trunk.ts';
import type { ClassifierConfig } from './config.ts';
import { AverageHead, BilinearHead, CompactHead, LowRankHead, type Head } from './heads.ts';

/** Conv trunk → pooling head over its locations → class scores. */
export class ClassifierNet {
  readonly store: ParamStore;
  private readonly trunk: ConvTrunk;
  private readonly head: Head;
  /** locations of the trunk's last feature map */
  private readonly locations: number;

  constructor(
    readonly cfg: ClassifierConfig,
    classes: number,
  ) {
    this.store = new ParamStore(cfg.train.seed);
    const m = cfg.model;
    this.trunk = new ConvTrunk(this.store, 'trunk', m.channels, m.strides, { pool: m.pool, batchNorm: m.batchNorm });
    const c = this.trunk.outChannels;
    // a strided 'same' convolution rounds up, a 2×2 'valid' max pool down
    const side = m.strides.reduce((s, stride) => (stride === 1 ? s : m.pool === 'max' ? Math.floor(s / 2) : Math.ceil(s / 2)), m.imageSize);
    this.locations = side * side;
    this.head =
      m.head === 'average'
        ? new AverageHead(this.store, c, classes)
        : m.head === 'bilinear'
          ? new BilinearHead(this.store, c, classes, this.locations)
          : m.head === 'lowrank'
            ? new LowRankHead(this.store, c, classes, m.rank)
            : new CompactHead(this.store, c, classes, m.compactDim, cfg.train.seed);
  }

  /** The trace regulariser's term of the loss (train.traceRegularizer × Σ_k ‖U_k V_kᵀ‖²_F), or none. */
  regularizer(): tf.Scalar | undefined {
    const strength = this.cfg.train.traceRegularizer;
    return strength > 0 && this.head instanceof LowRankHead ? (tf.mul(strength, this.head.traceTerm()) as tf.Scalar) : undefined;
  }

  /** images [B, H, W, 3] normalised → logits [B, K] */
  forward<T>(o: Ops<T>, images: T): T {
    // dropout on the feature map the head pools (in training only), as the reference notebook has it
    const f = o.dropout(o.reshape(this.trunk.forward(o, images), [0, this.locations, this.trunk.outChannels]), this.cfg.model.dropout);
    return this.head.forward(o, f);
  }

  dispose(): void {
    this.store.dispose();
  }
}
