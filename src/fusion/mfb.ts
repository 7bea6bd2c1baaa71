import { Dense } from '../nn/layers.ts';
import { l2Normalize, sumPool } from '../nn/functions.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';

export interface MfbShape {
  k: number;
  o: number;
  dropout: number;
}

/**
 * Multimodal factorized bilinear pooling (Yu et al., ICCV 2017):
 * x′ = Wₓx + bₓ, y′ = Wᵧy + bᵧ (k·o each), e = dropout(x′ ⊙ y′), z = sum-pool over k,
 * z ← sign(z)√|z|, z ← z / ‖z‖₂.
 */
export class Mfb {
  readonly projectX: Dense;
  readonly projectY: Dense;

  constructor(
    store: ParamStore,
    name: string,
    xDim: number,
    yDim: number,
    readonly shape: MfbShape,
  ) {
    this.projectX = new Dense(store, `${name}.x`, xDim, shape.k * shape.o);
    this.projectY = new Dense(store, `${name}.y`, yDim, shape.k * shape.o);
  }

  get outDim(): number {
    return this.shape.o;
  }

  /** e = dropout(x′ ⊙ y′); x′ and y′ broadcast against each other. */
  expand<T>(o: Ops<T>, xProjected: T, yProjected: T): T {
    return o.dropout(o.mul(xProjected, yProjected), this.shape.dropout);
  }

  /** The sum pool over k, without the signed square root. */
  sumPool<T>(o: Ops<T>, e: T): T {
    return sumPool(o, e, this.shape.k, this.shape.o);
  }

  /** The sum pool, then the signed square root. */
  pool<T>(o: Ops<T>, e: T): T {
    return o.signedSqrt(this.sumPool(o, e));
  }

  /** x [B, m], y [B, n] → [B, o], L2-normalised per sample. */
  forward<T>(o: Ops<T>, x: T, y: T): T {
    const e = this.expand(o, this.projectX.forward(o, x), this.projectY.forward(o, y));
    return l2Normalize(o, this.pool(o, e), [-1]);
  }

  /** Σ over k of (Wₓ rₙ + bₓ) ⊙ (Wᵧ y + bᵧ) per region, Wₓ rₙ computed once per image: [B, N, o]. */
  fuseRegions<T>(o: Ops<T>, perImage: T, imageIndex: T, y: T): T {
    const regionsProjected = o.gatherRows(this.projectX.forward(o, perImage), imageIndex); // [B, N, k·o]
    return this.sumPool(o, this.expand(o, regionsProjected, o.expandDims(this.projectY.forward(o, y), 1)));
  }
}
