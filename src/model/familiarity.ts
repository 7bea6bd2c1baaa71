import type { tf } from '../backend/tf.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';

/**
 * What a model knows about its own answers, fitted after training (`vqa calibrate`,
 * src/train/calibrate.ts) and saved with the weights:
 * - how far an image lies from the training scenes: the Mahalanobis distance of its descriptor
 *   (the mean and spread of the encoder's regions) from the training images', divided by a
 *   threshold set on held-out images, so that a distance above 1 means "unlike the training scenes";
 * - the temperature that calibrates the answer scores (softmax of logits / temperature).
 * Before fitting: distance 0 (nothing flagged) and temperature 1.
 */
export class Familiarity {
  readonly mean: tf.Variable;
  readonly precision: tf.Variable;
  readonly threshold: tf.Variable;
  readonly temperature: tf.Variable;

  constructor(
    store: ParamStore,
    readonly d: number,
  ) {
    const width = 2 * d;
    this.mean = store.add('familiarity.mean', [width], 'zeros', { fitted: true });
    this.precision = store.add('familiarity.precision', [width, width], 'zeros', { fitted: true });
    this.threshold = store.add('familiarity.threshold', [], 'ones', { fitted: true });
    this.temperature = store.add('calibration.temperature', [], 'ones', { fitted: true });
  }

  /** Each image's descriptor: the mean and the standard deviation of its region vectors [I, N, d] → [I, 2d]. */
  describe<T>(o: Ops<T>, regions: T): T {
    const mean = o.mean(regions, [1], false);
    const spread = o.sqrt(o.add(o.mean(o.square(o.sub(regions, o.expandDims(mean, 1))), [1], false), 1e-6));
    return o.concat([mean, spread], 1);
  }

  /** Distance over threshold for each image [I]: above 1 is out of distribution. */
  distance<T>(o: Ops<T>, regions: T): T {
    const z = o.sub(this.describe(o, regions), o.param(this.mean));
    const squared = o.sum(o.mul(o.matMul(z, o.param(this.precision)), z), [1], false);
    return o.div(o.sqrt(o.maximum(squared, 0)), o.param(this.threshold));
  }

  calibrated<T>(o: Ops<T>, logits: T): T {
    return o.div(logits, o.param(this.temperature));
  }
}
