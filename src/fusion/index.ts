import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import type { FusionKind } from './kinds.ts';
import { Mfb, type MfbShape } from './mfb.ts';
import { Mfh } from './mfh.ts';
import { BilinearFusion, ConcatFusion, LowRankBilinearFusion, ProductFusion } from './baselines.ts';

export { Mfb, type MfbShape } from './mfb.ts';
export { Mfh } from './mfh.ts';
export { BilinearFusion, ConcatFusion, LowRankBilinearFusion, MAX_BILINEAR_FEATURES, outerProduct, ProductFusion } from './baselines.ts';

/** A fusion of two vectors into one, as used for the final question–image fusion. */
export interface Fusion {
  readonly outDim: number;
  /** x [B, m], y [B, n] → [B, outDim] */
  forward<T>(o: Ops<T>, x: T, y: T): T;
}

export { FUSION_KINDS, type FusionKind } from './kinds.ts';

/** `shape.k` is MFB's factor count and lowrank's rank; `shape.o` the output width (bilinear: m·n). */
export function createFusion(kind: FusionKind, store: ParamStore, name: string, xDim: number, yDim: number, shape: MfbShape): Fusion {
  switch (kind) {
    case 'mfb':
      return new Mfb(store, name, xDim, yDim, shape);
    case 'mfh':
      return new Mfh(store, name, xDim, yDim, shape);
    case 'concat':
      return new ConcatFusion(store, name, xDim, yDim, shape);
    case 'product':
      return new ProductFusion(store, name, xDim, yDim, shape);
    case 'bilinear':
      return new BilinearFusion(xDim, yDim, shape.dropout);
    case 'lowrank':
      return new LowRankBilinearFusion(store, name, xDim, yDim, shape);
  }
}
