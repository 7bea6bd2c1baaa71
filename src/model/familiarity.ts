import type { tf } from '../backend/tf.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';

/**
 * What a model knows about its own answers, fitted after training (`vqa calibrate`,
 * src/train/calibrate.ts) and saved with the weights:
 * - how far an image lies from the training scenes, by two checks, each scaled so that above 1
 *   means "unlike the training scenes", and the image's distance is the larger:
 *   - the Mahalanobis distance of its descriptor (the mean and spread of the encoder's regions)
 *     from the training images', over a threshold set on held-out training images;
 *   - a linear score of its features (the descriptor and, for a CNN, each conv block's channel
 *     mean, spread and maximum over the map) along the direction that tells training scenes from
 *     scenes of objects the generator never draws (outlier exposure; zero where none were drawn);
 * - the temperature that calibrates the answer scores (softmax of logits / temperature), and how
 *   many times higher it is for a question with a word training never saw (`unseenWordScale`,
 *   applied by the answer path, which knows the words: src/infer/answer.ts).
 * Before fitting: distance 0 (nothing flagged), temperature 1 and scale 1.
 */
export class Familiarity {
  readonly mean: tf.Variable;
  readonly precision: tf.Variable;
  readonly threshold: tf.Variable;
  /** [features]: the unfamiliar-scene direction, divided by its threshold */
  readonly direction: tf.Variable;
  /** the score's offset, so that 1 is the threshold and training scenes score about 0 */
  readonly offset: tf.Variable;
  readonly temperature: tf.Variable;
  readonly unseenWordScale: tf.Variable;
  /** the descriptor's width, 2d: the regions' mean and spread */
  readonly descriptorWidth: number;
  /** the width of `features`: the descriptor, then three numbers per channel of each map */
  readonly featureWidth: number;

  constructor(store: ParamStore, d: number, mapChannels: readonly number[]) {
    this.descriptorWidth = 2 * d;
    this.featureWidth = this.descriptorWidth + 3 * mapChannels.reduce((a, b) => a + b, 0);
    this.mean = store.add('familiarity.mean', [this.descriptorWidth], 'zeros', { fitted: true });
    this.precision = store.add('familiarity.precision', [this.descriptorWidth, this.descriptorWidth], 'zeros', { fitted: true });
    this.threshold = store.add('familiarity.threshold', [], 'ones', { fitted: true });
    this.direction = store.add('familiarity.direction', [this.featureWidth], 'zeros', { fitted: true });
    this.offset = store.add('familiarity.offset', [], 'zeros', { fitted: true });
    this.temperature = store.add('calibration.temperature', [], 'ones', { fitted: true });
    this.unseenWordScale = store.add('calibration.unseenWordScale', [], 'ones', { fitted: true });
  }

  /** Each image's descriptor: the mean and the standard deviation of its region vectors [I, N, d] → [I, 2d]. */
  describe<T>(o: Ops<T>, regions: T): T {
    const mean = o.mean(regions, [1], false);
    const spread = o.sqrt(o.add(o.mean(o.square(o.sub(regions, o.expandDims(mean, 1))), [1], false), 1e-6));
    return o.concat([mean, spread], 1);
  }

  /** Each image's features [I, featureWidth]: the descriptor, then each map's [I, h, w, C] channel mean, spread and maximum. */
  features<T>(o: Ops<T>, regions: T, maps: T[]): T {
    const perMap = maps.map((m) => {
      const mean = o.mean(m, [1, 2], false);
      const spread = o.sqrt(o.add(o.mean(o.square(o.sub(m, o.expandDims(o.expandDims(mean, 1), 1))), [1, 2], false), 1e-6));
      return [mean, spread, o.max(o.max(m, 1, false), 1, false)];
    });
    return o.concat([this.describe(o, regions), ...perMap.flat()], 1);
  }

  /** Distance over threshold for each image [I]: above 1 is out of distribution. */
  distance<T>(o: Ops<T>, regions: T, maps: T[]): T {
    const features = this.features(o, regions, maps);
    const z = o.sub(o.slice(features, 1, 0, this.descriptorWidth), o.param(this.mean)); // the descriptor leads the features
    const squared = o.sum(o.mul(o.matMul(z, o.param(this.precision)), z), [1], false);
    const mahalanobis = o.div(o.sqrt(o.maximum(squared, 0)), o.param(this.threshold));
    const score = o.add(o.matMul(features, o.reshape(o.param(this.direction), [-1, 1])), o.param(this.offset)); // [I, 1]
    return o.max(o.concat([o.reshape(mahalanobis, [-1, 1]), score], 1), 1, false);
  }

  calibrated<T>(o: Ops<T>, logits: T): T {
    return o.div(logits, o.param(this.temperature));
  }
}
