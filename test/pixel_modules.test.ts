import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { inference } from '../src/nn/eager_ops.ts';
import { ParamStore } from '../src/nn/params.ts';
import { borderMean, withBackgroundChannels } from '../src/modules/background_channels.ts';
import { whiteBackground, WhiteBackgroundSchema } from '../src/modules/white_background.ts';
import { CnnEncoder } from '../src/vision/cnn.ts';
import { VqaNet } from '../src/model/net.ts';
import { normalizePixels } from '../src/data/images.ts';
import { maxAbsDiff, tinyConfig, useWasm } from './helpers.ts';

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

/** A 16×16 scene as the network reads it: `background` everywhere, a 4×4 block of `object` at (4, 4), one pixel of `edge` at (0, 6). */
function scene(background: number[], object: number[], edge: number[] = background): tf.Tensor4D {
  const bytes = new Uint8Array(16 * 16 * 3);
  for (let y = 0; y < 16; y++)
    for (let x = 0; x < 16; x++) {
      const inside = y >= 4 && y < 8 && x >= 4 && x < 8;
      bytes.set(inside ? object : y === 0 && x === 6 ? edge : background, (y * 16 + x) * 3);
    }
  const values = new Float32Array(bytes.length);
  normalizePixels(bytes, values, 0);
  return tf.tensor4d(values, [1, 16, 16, 3]);
}

/** The normalised value of a byte level. */
const level = (v: number) => (v / 255 - 0.5) / 0.25;

describe('the white-background module', () => {
  const cfg = WhiteBackgroundSchema.parse({ kind: 'white-background' }); // low 16, high 32 levels

  it('paints the background white and keeps an object that differs by ≥ high in some channel, so two backgrounds give the same input (1e-5)', () => {
    const grey = scene([120, 120, 120], [200, 30, 30]);
    const beige = scene([180, 180, 150], [200, 30, 30]);
    const [a, b] = [grey, beige].map((img) => whiteBackground(inference, img, 16, cfg));
    const out = Array.from(a!.dataSync());
    const pixel = (y: number, x: number) => out.slice((y * 16 + x) * 3, (y * 16 + x) * 3 + 3);
    expect(maxAbsDiff(pixel(0, 0), [2, 2, 2])).toBeLessThan(1e-5); // white: (1 − 0.5) / 0.25
    expect(maxAbsDiff(pixel(5, 5), [200, 30, 30].map(level))).toBeLessThan(1e-5);
    expect(maxAbsDiff(out, b!.dataSync())).toBeLessThan(1e-5);
    tf.dispose([grey, beige, a!, b!]);
  });

  it('blends a pixel between low and high linearly: 24 levels from the border colour is half object, half white', () => {
    // the edge pixel shifts the border mean by 24/64 level (64 border entries); the object is far from it
    const img = scene([100, 100, 100], [0, 0, 0], [124, 100, 100]);
    const meanRed = 100 + 24 / 64;
    const out = whiteBackground(inference, img, 16, cfg);
    const at = Array.from(out.dataSync()).slice(6 * 3, 6 * 3 + 3);
    const weight = (124 - meanRed - 16) / 16;
    const expected = [124, 100, 100].map((v) => weight * level(v) + (1 - weight) * 2);
    expect(maxAbsDiff(at, expected)).toBeLessThan(1e-4);
    tf.dispose([img, out]);
  });

  it('the CNN, its batch-norm recalibration and the familiarity descriptors all read the whitened scene', () => {
    const model = tinyConfig({ model: { imageSize: 16, modules: [{ kind: 'white-background' }] } }).model;
    const plain = new VqaNet(tinyConfig({ model: { imageSize: 16 } }).model, 20, 4, 3);
    const whitening = new VqaNet(model, 20, 4, 3);
    const grey = scene([120, 120, 120], [200, 30, 30]);
    const white = scene([255, 255, 255], [200, 30, 30]);
    const descriptors = (net: VqaNet, img: tf.Tensor4D) => tf.tidy(() => Array.from(net.imageFeatures(inference, img).dataSync()));
    expect(maxAbsDiff(descriptors(whitening, grey), descriptors(whitening, white))).toBeLessThan(1e-5);
    expect(maxAbsDiff(descriptors(plain, grey), descriptors(plain, white))).toBeGreaterThan(1e-2);
    const before = tf.memory().numTensors;
    whitening.recalibrateBatchNorm([grey]);
    const fromGrey = Array.from(whitening.store.get('vision.bn0.running_mean').dataSync());
    whitening.recalibrateBatchNorm([white]);
    expect(maxAbsDiff(fromGrey, whitening.store.get('vision.bn0.running_mean').dataSync())).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([grey, white]);
    plain.dispose();
    whitening.dispose();
  });

  it('is refused with high ≤ low', () => {
    expect(WhiteBackgroundSchema.safeParse({ kind: 'white-background', low: 30, high: 20 }).success).toBe(false);
  });
});
