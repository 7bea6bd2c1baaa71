import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { inference, training } from '../src/nn/eager_ops.ts';
import { Conv2d } from '../src/nn/layers.ts';
import { ParamStore } from '../src/nn/params.ts';
import { ConvTrunk } from '../src/vision/conv_trunk.ts';
import { maxAbsDiff, useWasm } from './helpers.ts';

// Batch-norm recalibration ("precise BN"): running statistics replaced by the mean of batch
// statistics computed with the current weights. Tolerance 1e-4 (float32, wasm).
const TOL = 1e-4;

beforeAll(useWasm);

function trunkAndBatches(seed: number): { store: ParamStore; trunk: ConvTrunk; batches: tf.Tensor4D[] } {
  const store = new ParamStore(seed);
  const trunk = new ConvTrunk(store, 'vision', [6, 5], [2, 1]);
  const batches = [0, 1, 2].map((i) => tf.add(tf.randomNormal([3, 9, 9, 3], 0, 1, 'float32', seed + i), i) as tf.Tensor4D);
  // Training steps move the running averages away from the identity they start at.
  for (const b of batches) tf.dispose(trunk.forward(training, b));
  return { store, trunk, batches };
}

describe('batch-norm recalibration', () => {
  it('after one batch, inference on that batch equals the training-mode forward pass', () => {
    const { store, trunk, batches } = trunkAndBatches(3);
    const [b] = batches as [tf.Tensor4D];
    trunk.recalibrate([b]);
    const train = tf.tidy(() => trunk.forward(training, b)); // also moves the running averages, so run after
    trunk.recalibrate([b]);
    const infer = trunk.forward(inference, b);
    expect(maxAbsDiff(train.dataSync(), infer.dataSync())).toBeLessThan(TOL);
    tf.dispose([train, infer, ...batches]);
    store.dispose();
  });

  it("sets the first layer's running mean and variance to the means of its batch moments, leaking no tensors", () => {
    const { store, trunk, batches } = trunkAndBatches(5);
    const conv0 = new Conv2d(new ParamStore(0), 'unused', 3, 6, 3, 2);
    conv0.w.assign(store.get('vision.conv0.w'));
    const moments = batches.map((b) => tf.tidy(() => tf.moments(conv0.forward(inference, b), [0, 1, 2])));
    const expectedMean = moments.map((m) => Array.from(m.mean.dataSync())).reduce((a, m) => a.map((x, i) => x + m[i]! / batches.length), new Array(6).fill(0));
    const expectedVar = moments.map((m) => Array.from(m.variance.dataSync())).reduce((a, m) => a.map((x, i) => x + m[i]! / batches.length), new Array(6).fill(0));
    const before = tf.memory().numTensors;
    trunk.recalibrate(batches);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxAbsDiff(store.get('vision.bn0.running_mean').dataSync(), expectedMean)).toBeLessThan(TOL);
    expect(maxAbsDiff(store.get('vision.bn0.running_var').dataSync(), expectedVar)).toBeLessThan(TOL);
    tf.dispose([...batches, ...moments.flatMap((m) => [m.mean, m.variance])]);
    conv0.w.dispose();
    store.dispose();
  });

  it('refuses an empty set of batches', () => {
    const { store, trunk, batches } = trunkAndBatches(7);
    expect(() => trunk.recalibrate([])).toThrow(/at least one batch/);
    tf.dispose(batches);
    store.dispose();
  });
});
