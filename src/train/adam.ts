import { tf } from '../backend/tf.ts';
import { ConfigFieldError, type TrainConfig } from '../config/config.ts';

export interface AdamOptions {
  betas: [number, number];
  eps: number;
  clipNorm: number;
  /** the rate's multiplier for the parameters whose names start with each key (the longest key that matches) */
  rateScale?: Record<string, number>;
}

export interface OptimizerSnapshot {
  step: number;
  values: Record<string, Float32Array>;
}

/** Adam's options as a run's config sets them. */
export function adamOptions(t: TrainConfig): AdamOptions {
  return { betas: t.betas, eps: t.adamEps, clipNorm: t.clipNorm, rateScale: t.rateScale };
}

/**
 * Adam with bias correction and clipping by global gradient norm; its moments are named like
 * the parameters so they can be checkpointed and restored for --resume.
 */
export class Adam {
  private step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly rateOf = new Map<string, number>();

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly opts: AdamOptions,
  ) {
    const prefixes = Object.keys(opts.rateScale ?? {}).sort((a, b) => b.length - a.length);
    for (const prefix of prefixes) {
      if (![...params.keys()].some((n) => n.startsWith(prefix))) throw new ConfigFieldError(`train.rateScale: no trained parameter's name starts with '${prefix}'`);
    }
    // in a tidy: a variable keeps the zeros' data, the zeros tensor itself would stay behind
    for (const [name, p] of params) {
      const prefix = prefixes.find((k) => name.startsWith(k));
      this.rateOf.set(name, prefix === undefined ? 1 : opts.rateScale![prefix]!);
      this.m.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
      this.v.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
    }
  }

  /**
   * Applies one update with learning rate `lr`, times each parameter's rateScale when `scaled`
   * (training turns it off during the curriculum); returns the gradient norm before clipping.
   */
  apply(grads: Record<string, tf.Tensor>, lr: number, scaled = true): tf.Scalar {
    this.step += 1;
    const [b1, b2] = this.opts.betas;
    const correction1 = 1 - b1 ** this.step;
    const correction2 = 1 - b2 ** this.step;
    return tf.tidy(() => {
      const names = [...this.params.keys()].filter((n) => grads[n]);
      const norm = tf.sqrt(sumPairwise(names.map((n) => tf.sum(tf.square(grads[n]!)))));
      const scale = tf.minimum(1, tf.div(this.opts.clipNorm, tf.add(norm, 1e-6)));
      for (const name of names) {
        const g = tf.mul(grads[name]!, scale);
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const update = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), this.opts.eps));
        const p = this.params.get(name)!;
        p.assign(tf.sub(p, tf.mul(update, scaled ? lr * this.rateOf.get(name)! : lr)));
      }
      return tf.keep(norm) as tf.Scalar;
    });
  }

  /** The moments as plain arrays, named m/<param> and v/<param>, for checkpoints and worker threads. */
  async snapshot(): Promise<OptimizerSnapshot> {
    const values: Record<string, Float32Array> = {};
    for (const [kind, store] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, variable] of store) values[`${kind}/${name}`] = (await variable.data()) as Float32Array;
    }
    return { step: this.step, values };
  }

  restoreSnapshot(s: OptimizerSnapshot, source: string): void {
    const tensors = Object.fromEntries(Object.entries(s.values).map(([k, v]) => [k, tf.tensor(v, this.shapeOf(k))]));
    try {
      this.restore(s.step, tensors, source);
    } finally {
      tf.dispose(Object.values(tensors));
    }
  }

  private shapeOf(key: string): number[] {
    const p = this.params.get(key.slice(2));
    if (!p) throw new Error(`optimizer state names an unknown parameter: ${key}`);
    return p.shape;
  }

  restore(step: number, values: Record<string, tf.Tensor>, source: string): void {
    this.step = step;
    for (const [kind, store] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, variable] of store) {
        const t = values[`${kind}/${name}`];
        if (!t) throw new Error(`${source}: optimizer state for '${name}' is missing`);
        variable.assign(t);
      }
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/**
 * Σ of many scalars by pairwise addition: one AddN over dozens of inputs exceeds WebGPU's limit
 * of storage buffers per shader stage (8 on NVIDIA through Dawn).
 */
function sumPairwise(terms: tf.Tensor[]): tf.Tensor {
  let level = terms;
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? tf.add(level[i]!, level[i + 1]!) : level[i]!);
    level = next;
  }
  return level[0]!;
}

/**
 * The rate of a 0-based epoch: the curriculum's own rate while it lasts, when it has one; else
 * openvqa's schedule: lr·e/W during warm-up epoch e ≤ W (1-based), then ×factor at each listed epoch.
 */
export function learningRate(train: TrainConfig, epoch: number): number {
  const { curriculum, lr, warmupEpochs, decayEpochs, decayFactor } = train;
  if (curriculum?.lr !== undefined && epoch < curriculum.epochs) return curriculum.lr;
  if (epoch < warmupEpochs) return (lr * (epoch + 1)) / (warmupEpochs + 1);
  const decays = decayEpochs.filter((e) => epoch >= e).length;
  return lr * decayFactor ** decays;
}
