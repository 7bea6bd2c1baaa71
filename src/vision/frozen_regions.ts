import { Dense } from '../nn/layers.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import type { Encoded, RegionEncoder } from './region_encoder.ts';

/** The trained part of `vision: pretrained`: a linear map of each pretrained region feature to width d. */
export class FrozenRegionEncoder implements RegionEncoder {
  private readonly project: Dense;
  readonly mapChannels: readonly number[] = [];

  constructor(store: ParamStore, featureWidth: number, d: number) {
    this.project = new Dense(store, 'vision.project', featureWidth, d);
  }

  /** region features [I, N, C] from the feature store → regions [I, N, d] */
  forward<T>(o: Ops<T>, features: T): T {
    return this.project.forward(o, features);
  }

  encode<T>(o: Ops<T>, features: T): Encoded<T> {
    return { regions: this.forward(o, features), maps: [] };
  }
}
