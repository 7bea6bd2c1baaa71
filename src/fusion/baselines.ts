// Simple fusions beside MFB/MFH, for ablations: concatenation + MLP, elementwise product,
// the full bilinear (outer) product, and the low-rank bilinear form.
import type { tf } from '../backend/tf.ts';
import { Dense } from '../nn/layers.ts';
import { l2Normalize, sumPool } from '../nn/functions.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import type { MfbShape } from './mfb.ts';

/** z = W₂ ReLU(W₁ [x; y] + b₁) + b₂, width o. */
export class ConcatFusion {
  private readonly hidden: Dense;
  private readonly out: Dense;

  constructor(
    store: ParamStore,
    name: string,
    xDim: number,
    yDim: number,
    private readonly shape: MfbShape,
  ) {
    this.hidden = new Dense(store, `${name}.hidden`, xDim + yDim, shape.o);
    this.out = new Dense(store, `${name}.out`, shape.o, shape.o);
  }

  get outDim(): number {
    return this.shape.o;
  }

  forward<T>(o: Ops<T>, x: T, y: T): T {
    return this.out.forward(o, o.dropout(o.relu(this.hidden.forward(o, o.concat([x, y], -1))), this.shape.dropout));
  }
}

/** z = (Wₓx + bₓ) ⊙ (Wᵧy + bᵧ), width o. */
export class ProductFusion {
  readonly projectX: Dense;
  readonly projectY: Dense;

  constructor(
    store: ParamStore,
    name: string,
    xDim: number,
    yDim: number,
    private readonly shape: MfbShape,
  ) {
    this.projectX = new Dense(store, `${name}.x`, xDim, shape.o);
    this.projectY = new Dense(store, `${name}.y`, yDim, shape.o);
  }

  get outDim(): number {
    return this.shape.o;
  }

  forward<T>(o: Ops<T>, x: T, y: T): T {
    return o.dropout(o.mul(this.projectX.forward(o, x), this.projectY.forward(o, y)), this.shape.dropout);
  }
}

/** Above this many features per sample the full bilinear product is refused. */
export const MAX_BILINEAR_FEATURES = 1 << 22;

/** vec(x yᵀ) without normalisation, row-major: index a·n + b holds x[a]·y[b]. x [..., m], y [..., n] of width m and n. */
export function outerProduct<T>(o: Ops<T>, x: T, y: T, m: number, n: number): T {
  const lead = Array<number>(o.rank(x) - 1).fill(0);
  return o.reshape(o.mul(o.expandDims(x, -1), o.expandDims(y, -2)), [...lead, m * n]);
}

/**
 * The original bilinear pooling (Lin et al. 2015): z = vec(x yᵀ), then sign(z)√|z| and z/‖z‖₂.
 * Width m·n: for small inputs only.
 */
export class BilinearFusion {
  constructor(
    private readonly xDim: number,
    private readonly yDim: number,
    private readonly rate: number,
  ) {
    const n = xDim * yDim;
    if (n > MAX_BILINEAR_FEATURES) {
      throw new Error(
        `bilinear fusion: ${xDim}×${yDim} = ${n} features per sample (over ${MAX_BILINEAR_FEATURES}) would not fit in memory; use lowrank, mfb or mfh, or smaller widths`,
      );
    }
  }

  get outDim(): number {
    return this.xDim * this.yDim;
  }

  forward<T>(o: Ops<T>, x: T, y: T): T {
    return l2Normalize(o, o.signedSqrt(o.dropout(outerProduct(o, x, y, this.xDim, this.yDim), this.rate)), [-1]);
  }
}

/**
 * Low-rank bilinear (Kong & Fowlkes 2017; Pirsiavash et al. 2009): z_i = xᵀ U_i V_iᵀ y with
 * U_i, V_i of rank r (= shape.k), computed as Σ_j (U_i[:, j]ᵀx)(V_i[:, j]ᵀy) without forming W_i.
 */
export class LowRankBilinearFusion {
  readonly u: tf.Variable;
  readonly v: tf.Variable;

  constructor(
    store: ParamStore,
    name: string,
    xDim: number,
    yDim: number,
    private readonly shape: MfbShape,
  ) {
    this.u = store.add(`${name}.u`, [xDim, shape.o * shape.k], 'glorot');
    this.v = store.add(`${name}.v`, [yDim, shape.o * shape.k], 'glorot');
  }

  get outDim(): number {
    return this.shape.o;
  }

  forward<T>(o: Ops<T>, x: T, y: T): T {
    const product = o.mul(o.matMul(x, o.param(this.u)), o.matMul(y, o.param(this.v)));
    return sumPool(o, o.dropout(product, this.shape.dropout), this.shape.k, this.shape.o);
  }
}
