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
    this.trunk = new ConvTrunk(this.store, 'trunk', m.channels, m.strides);
    const c = this.trunk.outChannels;
    const side = m.strides.reduce((s, stride) => Math.ceil(s / stride), m.imageSize);
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

  /** images [B, H, W, 3] normalised → logits [B, K] */
  forward<T>(o: Ops<T>, images: T): T {
    const f = o.reshape(this.trunk.forward(o, images), [0, this.locations, this.trunk.outChannels]);
    return this.head.forward(o, f);
  }

  dispose(): void {
    this.store.dispose();
  }
}
