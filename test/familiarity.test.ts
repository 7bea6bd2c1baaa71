import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { clevrLite } from '../src/data/synth/clevr_lite.ts';
import { vocabularyOf } from '../src/data/synth/generators.ts';
import { sortOfClevr } from '../src/data/synth/sort_of_clevr.ts';
import { RANDOM_STYLE, SPEC_STYLE } from '../src/data/synth/types.ts';
import { unfamiliarScene } from '../src/data/synth/unfamiliar.ts';
import { VqaNet } from '../src/model/net.ts';
import { inference } from '../src/nn/eager_ops.ts';
import { tinyConfig, useWasm } from './helpers.ts';

beforeAll(useWasm);

describe('the familiarity checks (model/familiarity.ts)', () => {
  it("an image's distance is the larger of its Mahalanobis distance over the threshold and its unfamiliar-scene score, both from its features", () => {
    const net = new VqaNet(tinyConfig().model, 20, 4, 3);
    const fam = net.familiarity;
    const width = fam.mean.shape[0]!;
    const channels = [8, 16]; // tinyConfig's conv blocks
    expect(fam.featureWidth).toBe(width + 3 * channels.reduce((a, b) => a + b, 0));
    tf.tidy(() => {
      const a = tf.randomNormal([width, width], 0, 0.3, 'float32', 1);
      fam.mean.assign(tf.randomNormal([width], 0, 0.3, 'float32', 2));
      fam.precision.assign(tf.matMul(a, a, false, true).add(tf.eye(width))); // positive definite
      fam.threshold.assign(tf.scalar(2.5));
      fam.direction.assign(tf.randomNormal([fam.featureWidth], 0, 0.2, 'float32', 3));
      fam.offset.assign(tf.scalar(-0.4));
    });
    const images = tf.randomNormal([6, 24, 24, 3], 0, 1, 'float32', 4);
    const features = tf.tidy(() => net.imageFeatures(inference, images).arraySync() as number[][]);
    const distances = tf.tidy(() => {
      const x = { images, imageIndex: tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32'), tokens: tf.zeros([6, 12], 'int32'), mask: tf.ones([6, 12]) };
      return Array.from(net.forward(inference, x).imageDistance.dataSync());
    });
    const [mean, precision, direction] = [fam.mean, fam.precision, fam.direction].map((v) => Array.from(v.dataSync()));
    features.forEach((f, i) => {
      const z = f.slice(0, width).map((v, j) => v - mean![j]!);
      let squared = 0;
      for (let r = 0; r < width; r++) for (let c = 0; c < width; c++) squared += z[r]! * precision![r * width + c]! * z[c]!;
      const score = f.reduce((s, v, j) => s + v * direction![j]!, -0.4);
      const expected = Math.max(Math.sqrt(squared) / 2.5, score);
      expect(Math.abs(distances[i]! - expected), `image ${i}`).toBeLessThan(1e-4 * Math.max(1, expected));
    });
    // both checks decide for some image: the test exercises each side of the maximum
    const sides = features.map((f, i) => distances[i]! > f.reduce((s, v, j) => s + v * direction![j]!, -0.4) + 1e-6);
    expect(new Set(sides).size).toBe(2);
    images.dispose();
    net.dispose();
  });

  it("a CNN's features hold each conv block's channel mean, spread and maximum after the descriptor", () => {
    const net = new VqaNet(tinyConfig().model, 20, 4, 3);
    const flat = tf.fill([1, 24, 24, 3], 0.5);
    const features = tf.tidy(() => Array.from(net.imageFeatures(inference, flat as tf.Tensor4D).dataSync()));
    const width = net.familiarity.mean.shape[0]!;
    const channels = [8, 16]; // tinyConfig's conv blocks
    // block 0 of a flat image: every cell of a channel equal away from the zero-padded border, so its maximum ≥ its mean
    const block0 = features.slice(width, width + 3 * channels[0]!);
    const [m, , mx] = [0, 1, 2].map((k) => block0.slice(k * channels[0]!, (k + 1) * channels[0]!));
    m!.forEach((v, c) => expect(mx![c]!).toBeGreaterThanOrEqual(v - 1e-6));
    expect(features.length).toBe(net.familiarity.featureWidth);
    flat.dispose();
    net.dispose();
  });
});

describe('unfamiliar scenes (data/synth/unfamiliar.ts)', () => {
  const offPalette = (pixels: Uint8Array, palette: readonly (readonly number[])[], margin: number) => {
    for (let i = 0; i < pixels.length; i += 3) {
      const px = [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!];
      const near = palette.some((p) => Array.from({ length: 10 }, (_, k) => 0.55 + k * 0.05).some((s) => Math.max(...px.map((v, c) => Math.abs(v - s * p[c]!))) < margin));
      if (!near) return true;
    }
    return false;
  };

  it('are fixed by seed and index, drawn at the size asked, and differ from index to index', async () => {
    const vocab = vocabularyOf({ kind: 'sort-of-clevr' })!;
    const a = await unfamiliarScene(vocab, RANDOM_STYLE, 75, 1, 3);
    expect(a.length).toBe(75 * 75 * 3);
    expect(Buffer.from(await unfamiliarScene(vocab, RANDOM_STYLE, 75, 1, 3)).equals(Buffer.from(a))).toBe(true);
    expect(Buffer.from(await unfamiliarScene(vocab, RANDOM_STYLE, 75, 1, 4)).equals(Buffer.from(a))).toBe(false);
    expect(Buffer.from(await unfamiliarScene(vocab, RANDOM_STYLE, 75, 2, 3)).equals(Buffer.from(a))).toBe(false);
  });

  it("where the generator draws every shape and outline, each scene has a colour off every shade of its palette; the generator's own scenes have none", async () => {
    const vocab = vocabularyOf({ kind: 'clevr-lite' })!;
    expect(vocab.shapes).toEqual(['circle', 'square', 'triangle']);
    let withOdd = 0;
    for (let i = 0; i < 20; i++) if (offPalette(await unfamiliarScene(vocab, RANDOM_STYLE, 64, 1, i), vocab.palette, 24)) withOdd++;
    expect(withOdd).toBeGreaterThanOrEqual(19); // a JPEG'd or blurred small object may lose its colour's core
    const own = clevrLite(1, 64, 10, SPEC_STYLE).generate(0, 'train').pixels;
    expect(offPalette(own, [...vocab.palette, [255, 255, 255]], 24)).toBe(false);
  });

  it('come from the generators that have a vocabulary, and Sort-of-CLEVR knows only circles and squares', () => {
    expect(vocabularyOf({ kind: 'sort-of-clevr' })).toEqual(sortOfClevr(1, 75, SPEC_STYLE).vocabulary);
    expect([...vocabularyOf({ kind: 'sort-of-clevr' })!.shapes].sort()).toEqual(['circle', 'square']);
    expect(vocabularyOf({ kind: 'shape-colours' })).toBeUndefined();
    expect(vocabularyOf(undefined)).toBeUndefined();
  });
});
