// Pooling heads over the locations of a feature map f ∈ R^{N×C} (one stream, A = B).
import { tf } from '../backend/tf.ts';
import { Dense } from '../nn/layers.ts';
import { l2Normalize, matMul, signedSqrt } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import { Rng } from '../util/rng.ts';

export interface Head {
  /** features [B, N, C] → class scores [B, K] */
  apply(f: tf.Tensor3D): tf.Tensor2D;
}

/** Global average pooling, then a linear classifier (the first-order baseline). */
export class AverageHead implements Head {
  private readonly classifier: Dense;

  constructor(store: ParamStore, channels: number, classes: number) {
    this.classifier = new Dense(store, 'head.classifier', channels, classes);
  }

  apply(f: tf.Tensor3D): tf.Tensor2D {
    return this.classifier.apply(tf.mean(f, 1)) as tf.Tensor2D;
  }
}

/** (1/N) Σ_n f_n f_nᵀ: the second-order statistics of the locations, flattened: [B, C·C]. */
export function bilinearPool(f: tf.Tensor3D): tf.Tensor2D {
  const [b, n, c] = f.shape;
  const gram = tf.div(matMul(tf.transpose(f, [0, 2, 1]), f), n); // [B, C, C]
  return tf.reshape(gram, [b, c * c]) as tf.Tensor2D;
}

/** Bilinear CNN (Lin et al. 2015): pooled outer products, signed square root, L2 norm, linear classifier. */
export class BilinearHead implements Head {
  private readonly classifier: Dense;

  constructor(store: ParamStore, channels: number, classes: number) {
    this.classifier = new Dense(store, 'head.classifier', channels * channels, classes);
  }

  apply(f: tf.Tensor3D): tf.Tensor2D {
    return this.classifier.apply(l2Normalize(signedSqrt(bilinearPool(f)), [-1])) as tf.Tensor2D;
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

  apply(f: tf.Tensor3D): tf.Tensor2D {
    const [b, n, c] = f.shape;
    const flat = tf.reshape(f, [b * n, c]);
    const prod = tf.mul(matMul(flat, this.u), matMul(flat, this.v)); // [B·N, K·r]
    const perClass = tf.sum(tf.reshape(prod, [b, n, this.classes, this.rank]), 3); // [B, N, K]
    return tf.add(tf.mean(perClass, 1), this.bias) as tf.Tensor2D;
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

  apply(f: tf.Tensor3D): tf.Tensor2D {
    const [b, n, c] = f.shape;
    const flat = tf.reshape(f, [b * n, c]);
    const z = tf.div(tf.mul(matMul(flat, this.w1), matMul(flat, this.w2)), Math.sqrt(this.dim));
    const pooled = tf.mean(tf.reshape(z, [b, n, this.dim]), 1);
    return this.classifier.apply(l2Normalize(signedSqrt(pooled), [-1])) as tf.Tensor2D;
  }
}
