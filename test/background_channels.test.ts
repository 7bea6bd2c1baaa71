import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { inference } from '../src/nn/eager_ops.ts';
import { ParamStore } from '../src/nn/params.ts';
import { borderMean, withBackgroundChannels } from '../src/modules/background_channels.ts';
import { CnnEncoder } from '../src/vision/cnn.ts';
import { maxAbsDiff, useWasm } from './helpers.ts';

beforeAll(async () => {
  await useWasm();
});

describe('the background-channels module', () => {
  it("the border's mean colour is the mean of the top and bottom rows and the left and right columns (1e-6)", () => {
    const images = tf.randomUniform([2, 6, 6, 3], -1, 1, 'float32', 5);
    const values = images.arraySync() as number[][][][];
    const expected = values.map((img) =>
      [0, 1, 2].map((c) => {
        const edge = [...img[0]!.map((p) => p[c]!), ...img[5]!.map((p) => p[c]!), ...img.map((row) => row[0]![c]!), ...img.map((row) => row[5]![c]!)];
        return edge.reduce((a, b) => a + b, 0) / edge.length;
      }),
    );
    const got = borderMean(inference, images, 6);
    expect(got.shape).toEqual([2, 1, 1, 3]);
    expect(maxAbsDiff(Array.from(got.dataSync()), expected.flat())).toBeLessThan(1e-6);
    tf.dispose([images, got]);
  });

  it('with the absolute-colour weights at zero, the regions do not change when the whole image shifts in colour (a background change)', () => {
    const store = new ParamStore(3);
    const encoder = new CnnEncoder(store, { channels: [8, 8], strides: [2, 2] }, 16, [5, 5], 6);
    const w = store.trainable().get('vision.conv0.w')!;
    expect(w.shape).toEqual([3, 3, 6, 8]); // six input channels
    const images = tf.randomUniform([2, 20, 20, 3], -1, 1, 'float32', 8);
    const shifted = tf.add(images, tf.tensor4d([0.4, -0.3, 0.2], [1, 1, 1, 3]));
    const differ = () =>
      tf.tidy(() =>
        maxAbsDiff(
          Array.from(encoder.forward(inference, withBackgroundChannels(inference, images, 20)).dataSync()),
          Array.from(encoder.forward(inference, withBackgroundChannels(inference, shifted, 20)).dataSync()),
        ),
      );
    expect(differ()).toBeGreaterThan(1e-2); // the absolute channels see the shift
    const mask = tf.tensor4d(
      Array.from({ length: 6 }, (_, c) => (c < 3 ? 0 : 1)),
      [1, 1, 6, 1],
    );
    w.assign(tf.mul(w, mask));
    expect(differ()).toBeLessThan(1e-5); // the relative channels do not
    tf.dispose([images, shifted, mask]);
  });
});
