import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { parseRunConfig } from '../src/config/config.ts';
import { ImageAttentionHop } from '../src/model/image_attention.ts';
import { GuideSlope } from '../src/model/guide_slope.ts';
import { ParamStore } from '../src/nn/params.ts';
import { maxAbsDiff, tinyConfig, useWasm } from './helpers.ts';

beforeAll(useWasm);

describe("the guide's slope over the words' places (imageAttention.guideSlope)", () => {
  it('adds s_g·(t/(len − 1) − ½) to glimpse g, s starting evenly from −K to +K, and owns no tensor after', () => {
    const store = new ParamStore(1);
    const slope = new GuideSlope(store, 3, 4, 6);
    expect(Array.from(store.get('iatt.wordatt.slope').dataSync())).toEqual([-4, 0, 4]);
    const mask = tf.tensor2d(
      [
        [1, 1, 1, 1, 1, 0],
        [1, 1, 0, 0, 0, 0],
      ],
      [2, 6],
    );
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => slope.apply(mask));
    expect(tf.memory().numTensors).toBe(before + 1);
    const lengths = [5, 2];
    const expected = lengths.flatMap((len) => Array.from({ length: 6 }, (_, t) => [-4, 0, 4].map((s) => s * (t / (len - 1) - 0.5))).flat());
    expect(got.shape).toEqual([2, 6, 3]);
    expect(maxAbsDiff(Array.from(got.dataSync()), expected)).toBeLessThan(1e-6);
    tf.dispose([mask, got]);
    for (const [, v] of store.entries()) v.dispose();
  });

  it('is refused without a guide over the words', () => {
    expect(() => parseRunConfig({ model: { imageAttention: { guideSlope: 2 } } }, 'cfg.json')).toThrow('cfg.json: model.imageAttention.guidePerGlimpse and guideSlope need');
  });
});

describe('hop 1 with one guide glimpse per attention glimpse (imageAttention.guidePerGlimpse)', () => {
  it("scores glimpse g against the guide's glimpse g alone: swapping the guide's glimpses swaps the maps", () => {
    const cfg = tinyConfig({
      model: { imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, norm: 'none', signedSqrt: false, query: 'word-embeddings', guidePerGlimpse: true } },
    }).model;
    const d = cfg.d;
    const store = new ParamStore(5);
    const hop = new ImageAttentionHop(store, cfg, 1, 2 * d, 9, true);
    const perImage = tf.randomNormal([1, 9, d], 0, 1, 'float32', 3);
    const [a, b] = [tf.randomNormal([1, d], 0, 1, 'float32', 4), tf.randomNormal([1, d], 0, 1, 'float32', 6)];
    const maps = (query: tf.Tensor) => tf.tidy(() => hop.weights({ perImage, regions: perImage, imageIndex: tf.tensor1d([0], 'int32'), query }, false).arraySync()[0]!);
    const [ab, ba] = [maps(tf.concat([a, b], 1)), maps(tf.concat([b, a], 1))];
    expect(maxAbsDiff(ab[0]!, ba[1]!)).toBeLessThan(1e-6);
    expect(maxAbsDiff(ab[1]!, ba[0]!)).toBeLessThan(1e-6);
    expect(maxAbsDiff(ab[0]!, ab[1]!)).toBeGreaterThan(1e-3); // the two guides do give two maps
    tf.dispose([perImage, a, b]);
    for (const [, v] of store.entries()) v.dispose();
  });

  it('is refused when the image glimpses do not pair with the guide glimpses', () => {
    expect(() =>
      parseRunConfig({ model: { questionAttention: { glimpses: 2 }, imageAttention: { glimpses: 3, query: 'word-embeddings', guidePerGlimpse: true } } }, 'cfg.json'),
    ).toThrow('cfg.json: model.imageAttention.guidePerGlimpse pairs each image glimpse with one glimpse of the guide');
  });
});
