// Pooling heads over the locations of a feature map f ∈ R^{N×C} (one stream, A = B).
import { tf } from '../backend/tf.ts';
import { l2Normalize } from '../nn/functions.ts';
import { Dense } from '../nn/layers.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import { Rng } from '../util/rng.ts';

export interface Head {
  /** features [B, N, C] → class scores [B, K] */
  forward<T>(o: Ops<T>, f: T): T;
}

/** Global average pooling, then a linear classifier (the first-order baseline). */
export class AverageHead implements Head {
  private readonly classifier: Dense;

  constructor(store: ParamStore, channels: number, classes: number) {
    this.classifier = new Dense(store, 'head.classifier', channels, classes);
  }

  forward<T>(o: Ops<T>, f: T): T {
    return this.classifier.forward(o, o.mean(f, [1], false));
  }
}

/** (1/N) Σ_n f_n f_nᵀ over the N locations of f [B, N, C]: the second-order statistics, flattened: [B, C·C]. */
export function bilinearPool<T>(o: Ops<T>, f: T, n: number): T {
  return o.reshape(o.div(o.matMul(o.transpose(f, [0, 2, 1]), f), n), [0, -1]);
}

/** Bilinear CNN (Lin et al. 2015): pooled outer products, signed square root, L2 norm, linear classifier. */
export class BilinearHead implements Head {
  private readonly classifier: Dense;

  constructor(
    store: ParamStore,
    channels: number,
    classes: number,
    private readonly locations: number,
  ) {
    this.classifier = new Dense(store, 'head.classifier', channels * channels, classes);
  }

  forward<T>(o: Ops<T>, f: T): T {
    return this.classifier.forward(o, l2Normalize(o, o.signedSqrt(bilinearPool(o, f, this.locations)), [-1]));
  }
}

/**
 * Low-rank bilinear classifier (Kong & Fowlkes 2017): score_k = ⟨U_k V_kᵀ, (1/N) Σ f fᵀ⟩
 * = (1/N) Σ_n Σ_j (U_k[:, j]ᵀ f_n)(V_k[:, j]ᵀ f_n), never forming the C×C matrix.
 */
export class LowRankHead implements Head {
  readonly u: tf.Variable;
  readonly v: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    store: ParamStore,
    channels: number,
    private readonly classes: number,
    private readonly rank: number,
  ) {
    this.u = store.add('head.u', [channels, classes * rank], 'glorot');
    this.v = store.add('head.v', [channels, classes * rank], 'glorot');
    this.bias = store.add('head.bias', [classes], 'zeros');
  }

  /** Σ_k tr(U_kᵀU_k · V_kᵀV_k) = Σ_k ‖U_k V_kᵀ‖²_F, for the trace regulariser (a tfjs scalar, in training) */
  traceTerm(): tf.Scalar {
    const gram = (w: tf.Variable) => {
      const perClass = tf.transpose(tf.reshape(w, [w.shape[0]!, this.classes, this.rank]), [1, 0, 2]); // [K, C, r]
      return tf.matMul(perClass, perClass, true, false); // [K, r, r]
    };
    return tf.sum(tf.mul(gram(this.u), gram(this.v))); // both symmetric: Σ_ij G_u,ij G_v,ji
  }

  forward<T>(o: Ops<T>, f: T): T {
    const product = o.mul(o.matMul(f, o.param(this.u)), o.matMul(f, o.param(this.v))); // [B, N, K·r]
    const perClass = o.sum(o.reshape(product, [0, 0, this.classes, this.rank]), [3], false); // [B, N, K]
    return o.add(o.mean(perClass, [1], false), o.param(this.bias));
  }
}

/**
 * Compact bilinear pooling by Random Maclaurin projection (Gao et al. 2016): fixed random ±1
 * projections W₁, W₂ ∈ R^{C×D}; z = (1/N) Σ_n (W₁ᵀ f_n) ⊙ (W₂ᵀ f_n) / √D approximates the bilinear
 * kernel; then signed square root, L2 norm and a linear classifier.
 */
export class CompactHead implements Head {
  private readonly w1: tf.Variable;
  private readonly w2: tf.Variable;
  private readonly classifier: Dense;

  constructor(
    store: ParamStore,
    channels: number,
    classes: number,
    private readonly dim: number,
    seed: number,
  ) {
    const rng = new Rng(seed);
    const rademacher = () =>
      tf.tensor2d(
        Float32Array.from({ length: channels * dim }, () => (rng.next() < 0.5 ? -1 : 1)),
        [channels, dim],
      );
    this.w1 = store.add('head.rm1', [channels, dim], 'zeros', false);
    this.w2 = store.add('head.rm2', [channels, dim], 'zeros', false);
    tf.tidy(() => {
      this.w1.assign(rademacher());
      this.w2.assign(rademacher());
    });
    this.classifier = new Dense(store, 'head.classifier', dim, classes);
  }

  forward<T>(o: Ops<T>, f: T): T {
    const z = o.div(o.mul(o.matMul(f, o.param(this.w1)), o.matMul(f, o.param(this.w2))), Math.sqrt(this.dim));
    return this.classifier.forward(o, l2Normalize(o, o.signedSqrt(o.mean(z, [1], false)), [-1]));
  }
}
