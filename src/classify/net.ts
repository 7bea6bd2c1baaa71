import { tf } from '../backend/tf.ts';
import type { Ops } from '../nn/ops.ts';
import { ParamStore } from '../nn/params.ts';
import { ConvTrunk } from '../vision/conv_trunk.ts';
import type { ClassifierConfig } from './config.ts';
import { AverageHead, BilinearHead, CompactHead, LowRankHead, type Head } from './heads.ts';

/**
 * Conv trunk → pooling head over its locations → class scores; or, with a frozen pretrained
 * backbone (model.backbone), the head over the backbone's region features, extracted beforehand.
 */
export class ClassifierNet {
  readonly store: ParamStore;
  /** none with a backbone: the input is then its features */
  private readonly trunk?: ConvTrunk;
  private readonly head: Head;
  /** locations and channels of the feature map the head pools */
  private readonly locations: number;
  private readonly channels: number;

  /** `backbone`: the [regions, width] features a backbone gives, required with model.backbone */
  constructor(
    readonly cfg: ClassifierConfig,
    classes: number,
    backbone?: { regions: number; width: number },
  ) {
    this.store = new ParamStore(cfg.train.seed);
    const m = cfg.model;
    if (m.backbone) {
      if (!backbone) throw new Error(`a classifier with model.backbone needs the backbone's feature shape`);
      this.locations = backbone.regions;
      this.channels = backbone.width;
    } else {
      this.trunk = new ConvTrunk(this.store, 'trunk', m.channels, m.strides, { pool: m.pool, batchNorm: m.batchNorm });
      // a strided 'same' convolution rounds up, a 2×2 'valid' max pool down
      const side = m.strides.reduce((s, stride) => (stride === 1 ? s : m.pool === 'max' ? Math.floor(s / 2) : Math.ceil(s / 2)), m.imageSize);
      this.locations = side * side;
      this.channels = this.trunk.outChannels;
    }
    const c = this.channels;
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

  /** images [B, H, W, 3] normalised, or a backbone's features [B, N, C] → logits [B, K] */
  forward<T>(o: Ops<T>, input: T): T {
    const map = this.trunk ? this.trunk.forward(o, input) : input;
    // dropout on the feature map the head pools (in training only), as the reference notebook has it
    const f = o.dropout(o.reshape(map, [0, this.locations, this.channels]), this.cfg.model.dropout);
    return this.head.forward(o, f);
  }

  dispose(): void {
    this.store.dispose();
  }
}
