// The add-on modules (src/modules/) against their formulas, and their staging.
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { parseRunConfig } from '../src/config/config.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { ImageAttention } from '../src/model/image_attention.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { GlimpsePair, GlimpsePairSchema } from '../src/modules/glimpse_pair.ts';
import { Places, PlacesSchema } from '../src/modules/places.ts';
import { placeOffsets } from '../src/modules/word_guide.ts';
import { inference as o } from '../src/nn/eager_ops.ts';
import { ParamStore } from '../src/nn/params.ts';
import { regionCentres } from '../src/vision/region_centres.ts';
import { maxAbsDiff, tinyConfig, useWasm } from './helpers.ts';

beforeAll(useWasm);

describe("glimpse-pair: the product of hop 1's two objects", () => {
  it('equals s·z/‖z‖, z_j = Σ_{i<k} (Wₐa + bₐ)_{jk+i} (W_b b + b_b)_{jk+i}, from the first and second d columns, and owns no tensor after', () => {
    const [d, k, width, scale] = [4, 3, 5, 30];
    const store = new ParamStore(2);
    const pair = new GlimpsePair(store, GlimpsePairSchema.parse({ kind: 'glimpse-pair', k, o: width, scale }), d);
    const objects = tf.randomNormal([3, 2 * d], 0, 1, 'float32', 11) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => pair.forward(o, objects));
    expect(tf.memory().numTensors).toBe(before + 1);
    const [wa, ba, wb, bb] = ['pair.x.w', 'pair.x.b', 'pair.y.w', 'pair.y.b'].map((n) => store.get(n).arraySync() as number[][] | number[]);
    const project = (x: number[], w: number[][], b: number[]) => b.map((bias, j) => bias + x.reduce((s, xi, i) => s + xi * w[i]![j]!, 0));
    const expected = (objects.arraySync() as number[][]).flatMap((row) => {
      const pa = project(row.slice(0, d), wa as number[][], ba as number[]);
      const pb = project(row.slice(d), wb as number[][], bb as number[]);
      const z = Array.from({ length: width }, (_, j) => Array.from({ length: k }, (_, i) => pa[j * k + i]! * pb[j * k + i]!).reduce((s, v) => s + v, 0));
      const norm = Math.hypot(...z);
      return z.map((v) => (scale * v) / norm);
    });
    expect(got.shape).toEqual([3, width]);
    expect(maxAbsDiff(Array.from(got.dataSync()), expected)).toBeLessThan(1e-4);
    tf.dispose([objects, got]);
    store.dispose();
  });

  it('is refused with one glimpse', () => {
    expect(() => parseRunConfig({ model: { attention: { glimpses: 1 }, modules: [{ kind: 'glimpse-pair' }] } }, 'cfg.json')).toThrow(
      "cfg.json: the glimpse-pair module multiplies hop 1's first two glimpses; model.attention.glimpses is 1",
    );
  });
});

describe('places: where each attention map looked', () => {
  it('region centres run x then y over [-1, 1], row by row, as the coordinate channels', () => {
    expect(Array.from(regionCentres(2, 3))).toEqual([-1, -1, 0, -1, 1, -1, -1, 1, 0, 1, 1, 1]);
  });

  it('equal s · Σ_n a[b,m,n] · c_n per map, (x, y) per map in order, and own no tensor after', () => {
    const grid: [number, number] = [2, 3];
    const centres = regionCentres(...grid);
    const maps = tf.softmax(tf.randomNormal([4, 3, 6], 0, 2, 'float32', 7)) as tf.Tensor3D;
    const places = new Places(PlacesSchema.parse({ kind: 'places', scale: 2.5 }), grid);
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => places.forward(o, maps));
    expect(tf.memory().numTensors).toBe(before + 1);
    const expected = maps.arraySync().flatMap((perMap) => perMap.flatMap((w) => [0, 1].map((axis) => 2.5 * w.reduce((s, wn, n) => s + wn * centres[2 * n + axis]!, 0))));
    expect(got.shape).toEqual([4, 6]);
    expect(maxAbsDiff(Array.from(got.dataSync()), expected)).toBeLessThan(1e-6);
    // a map on one region gives that region's centre: the lower right one
    const oneHot = tf.oneHot(tf.tensor1d([5], 'int32'), 6).reshape([1, 1, 6]) as tf.Tensor3D;
    const corner = tf.tidy(() => places.forward(o, oneHot));
    expect(Array.from(corner.dataSync())).toEqual([2.5, 2.5]);
    tf.dispose([maps, got, oneHot, corner]);
  });
});

describe('staged modules', () => {
  const tokenizer = QuestionTokenizer.build(['is the red circle left of the blue square']).files;
  const answers = new AnswerVocab(['yes', 'no']);
  /** The answer probabilities of the same weights with places (and the glimpse pair) at other scales, the staged modules on or off. */
  function probabilities(modules: object[], on: boolean): number[] {
    const cfg = tinyConfig({ model: { attention: { k: 2, o: 8, hidden: 8, glimpses: 2, norm: 'none' }, modules: [{ kind: 'relational', hidden: 8, width: 4 }, ...modules] } });
    const model = new VqaModel(cfg, tokenizer, answers);
    model.net.setStagesOn(on);
    expect(model.net.stagesAnswer()).toBe(on);
    const t = cfg.model.language.maxTokens;
    const ids = [3, 4, 5, 6, 7, 8, 9];
    const inputs = {
      images: tf.randomNormal([1, 24, 24, 3], 0, 1, 'float32', 2),
      imageIndex: tf.tensor1d([0], 'int32'),
      tokens: tf.tensor2d([[...ids, ...new Array<number>(t - ids.length).fill(0)]], [1, t], 'int32'),
      mask: tf.tensor2d([[...ids.map(() => 1), ...new Array<number>(t - ids.length).fill(0)]], [1, t]),
    };
    const p = tf.tidy(() => Array.from(tf.softmax(model.net.forward(o, inputs).logits).dataSync()));
    tf.dispose(Object.values(inputs));
    model.dispose();
    return p;
  }

  it('do not reach the answer while off (places and the glimpse pair at any scale), and do once on', () => {
    const places = (scale: number) => [{ kind: 'places', scale }];
    expect(maxAbsDiff(probabilities(places(1), false), probabilities(places(30), false))).toBe(0);
    expect(maxAbsDiff(probabilities(places(1), true), probabilities(places(30), true))).toBeGreaterThan(1e-4);
    const pair = (scale: number) => [
      { kind: 'places', scale: 1 },
      { kind: 'glimpse-pair', scale },
    ];
    expect(maxAbsDiff(probabilities(pair(1), false), probabilities(pair(30), false))).toBe(0);
    expect(maxAbsDiff(probabilities(pair(1), true), probabilities(pair(30), true))).toBeGreaterThan(1e-4);
  });
});

describe("word-guide: the slope over the words' places", () => {
  it('adds s_g·(t/(len − 1) − ½) to glimpse g, and the slopes start evenly from −K to +K', () => {
    const mask = tf.tensor2d(
      [
        [1, 1, 1, 1, 1, 0],
        [1, 1, 0, 0, 0, 0],
      ],
      [2, 6],
    );
    const got = tf.tidy(() => placeOffsets(o, mask, tf.tensor1d([-4, 0, 4]), 6));
    const expected = [5, 2].flatMap((len) => Array.from({ length: 6 }, (_, t) => [-4, 0, 4].map((s) => s * (t / (len - 1) - 0.5))).flat());
    expect(got.shape).toEqual([2, 6, 3]);
    expect(maxAbsDiff(Array.from(got.dataSync()), expected)).toBeLessThan(1e-6);
    tf.dispose([mask, got]);
    const model = new VqaModel(
      tinyConfig({ model: { attention: { glimpses: 3 }, modules: [{ kind: 'word-guide', slope: 4 }] } }),
      QuestionTokenizer.build(['a']).files,
      new AnswerVocab(['a', 'b']),
    );
    expect(Array.from(model.net.store.get('iatt.wordatt.slope').dataSync())).toEqual([-4, 0, 4]);
    model.dispose();
  });
});

describe('the image attention with one guide glimpse per attention glimpse (word-guide perGlimpse)', () => {
  it("scores glimpse g against the guide's glimpse g alone: swapping the guide's glimpses swaps the maps", () => {
    const d = 16;
    const store = new ParamStore(5);
    const attention = new ImageAttention(store, { d, hidden: 8, glimpses: 2, k: 2, o: 8, norm: 'none', dropout: 0 }, 2 * d, true);
    const perImage = tf.randomNormal([1, 9, d], 0, 1, 'float32', 3);
    const [a, b] = [tf.randomNormal([1, d], 0, 1, 'float32', 4), tf.randomNormal([1, d], 0, 1, 'float32', 6)];
    const maps = (guide: tf.Tensor) => tf.tidy(() => (attention.forward(o, { perImage, imageIndex: tf.tensor1d([0], 'int32'), guide }).arraySync() as number[][][])[0]!);
    const [ab, ba] = [maps(tf.concat([a, b], 1)), maps(tf.concat([b, a], 1))];
    expect(maxAbsDiff(ab[0]!, ba[1]!)).toBeLessThan(1e-6);
    expect(maxAbsDiff(ab[1]!, ba[0]!)).toBeLessThan(1e-6);
    expect(maxAbsDiff(ab[0]!, ab[1]!)).toBeGreaterThan(1e-3); // the two guides do give two maps
    tf.dispose([perImage, a, b]);
    store.dispose();
  });
});
