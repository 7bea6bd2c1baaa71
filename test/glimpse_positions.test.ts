import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { GlimpsePositions, regionCentres } from '../src/model/glimpse_positions.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { maxAbsDiff, tinyConfig, useWasm } from './helpers.ts';

beforeAll(async () => {
  await useWasm();
});

describe('where each attention map looked', () => {
  it('region centres run x then y over [-1, 1], row by row, as the coordinate channels', () => {
    expect(Array.from(regionCentres(2, 3))).toEqual([-1, -1, 0, -1, 1, -1, -1, 1, 0, 1, 1, 1]);
  });

  it('equals s · Σ_n a[b,m,n] · c_n per map, (x, y) per map in order, and owns no tensor after', () => {
    const grid: [number, number] = [2, 3];
    const centres = regionCentres(...grid);
    const maps = tf.softmax(tf.randomNormal([4, 3, 6], 0, 2, 'float32', 7)) as tf.Tensor3D;
    const positions = new GlimpsePositions(grid, 2.5);
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => positions.apply(maps));
    expect(tf.memory().numTensors).toBe(before + 1);
    const a = maps.arraySync();
    const expected = a.flatMap((perMap) => perMap.flatMap((w) => [0, 1].map((axis) => 2.5 * w.reduce((s, wn, n) => s + wn * centres[2 * n + axis]!, 0))));
    expect(got.shape).toEqual([4, 6]);
    expect(maxAbsDiff(Array.from(got.dataSync()), expected)).toBeLessThan(1e-6);
    // a map on one region gives that region's centre: the lower right one
    const oneHot = tf.oneHot(tf.tensor1d([5], 'int32'), 6).reshape([1, 1, 6]) as tf.Tensor3D;
    const corner = tf.tidy(() => positions.apply(oneHot));
    expect(Array.from(corner.dataSync())).toEqual([2.5, 2.5]);
    tf.dispose([maps, got, oneHot, corner]);
  });
});

describe('places in the fusion (imageAttention.positions)', () => {
  const tokenizer = QuestionTokenizer.build(['is the red circle left of the blue square']).files;
  const answers = new AnswerVocab(['yes', 'no']);
  /** The answer probabilities of the same weights with places (and the glimpse pair) at other scales. */
  function probabilities(scales: { positions: number; pair?: { scale: number } }, relationalOn: boolean): number[] {
    const cfg = tinyConfig({
      model: { imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, norm: 'none', signedSqrt: false, ...scales }, relational: { hidden: 8, width: 4 } },
    });
    const model = new VqaModel(cfg, tokenizer, answers);
    const t = cfg.model.language.maxTokens;
    const ids = [3, 4, 5, 6, 7, 8, 9];
    const inputs = {
      images: tf.randomNormal([1, 24, 24, 3], 0, 1, 'float32', 2),
      imageIndex: tf.tensor1d([0], 'int32'),
      tokens: tf.tensor2d([[...ids, ...new Array<number>(t - ids.length).fill(0)]], [1, t], 'int32'),
      mask: tf.tensor2d([[...ids.map(() => 1), ...new Array<number>(t - ids.length).fill(0)]], [1, t]),
    };
    const p = tf.tidy(() => Array.from(tf.softmax(model.net.forward(inputs, false, relationalOn).logits).dataSync()));
    tf.dispose(Object.values(inputs));
    model.dispose();
    return p;
  }

  it('are staged with the relational module, and so is the glimpse pair: while it is off they do not reach the answer, once on they do', () => {
    expect(maxAbsDiff(probabilities({ positions: 1 }, false), probabilities({ positions: 30 }, false))).toBe(0);
    expect(maxAbsDiff(probabilities({ positions: 1 }, true), probabilities({ positions: 30 }, true))).toBeGreaterThan(1e-4);
    const pair = (scale: number, on: boolean) => probabilities({ positions: 1, pair: { scale } }, on);
    expect(maxAbsDiff(pair(1, false), pair(30, false))).toBe(0);
    expect(maxAbsDiff(pair(1, true), pair(30, true))).toBeGreaterThan(1e-4);
  });
});
