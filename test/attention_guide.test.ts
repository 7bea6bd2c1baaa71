import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { parseRunConfig } from '../src/config/config.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { maxAbsDiff, tinyConfig, useWasm } from './helpers.ts';

beforeAll(useWasm);

const TOKENIZER = QuestionTokenizer.build(['is the red circle left of the blue square']).files;

/** One image and one token sequence, padded to `maxTokens`. */
function oneQuestion(images: tf.Tensor, ids: number[], maxTokens: number) {
  const padding = new Array<number>(maxTokens - ids.length).fill(0);
  return {
    images,
    imageIndex: tf.tensor1d([0], 'int32'),
    tokens: tf.tensor2d([[...ids, ...padding]], [1, maxTokens], 'int32'),
    mask: tf.tensor2d([[...ids.map(() => 1), ...padding]], [1, maxTokens]),
  };
}

/** Hop 1's image attention before and after the transformer's first layer is changed. */
function attentionBeforeAndAfterChangingTheLayers(query: string): [number[], number[]] {
  const model = new VqaModel(tinyConfig({ model: { imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, query } } }), TOKENIZER, new AnswerVocab(['yes', 'no']));
  const t = model.config.model.language.maxTokens;
  const ids = [3, 4, 5, 6, 7, 8, 9, 10];
  const inputs = oneQuestion(tf.randomNormal([1, 24, 24, 3], 0, 1, 'float32', 2), ids, t);
  const attention = () => tf.tidy(() => Array.from(model.net.forward(inputs, false).imageAttention.dataSync()));
  const before = attention();
  for (const [name, v] of model.net.store.entries()) {
    if (!name.startsWith('language.layer0.')) continue;
    const changed = tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.5, 'float32', 9)));
    v.assign(changed);
    changed.dispose();
  }
  const after = attention();
  tf.dispose(Object.values(inputs));
  model.dispose();
  return [before, after];
}

describe("the image attention's guide", () => {
  it("'word-embeddings' reads the token embeddings alone: the transformer's layers do not move the attention", () => {
    const [before, after] = attentionBeforeAndAfterChangingTheLayers('word-embeddings');
    expect(maxAbsDiff(before, after)).toBe(0);
  });

  it("'word-embeddings-by-context' weights the words from the transformer's states: the layers do move the attention", () => {
    const [before, after] = attentionBeforeAndAfterChangingTheLayers('word-embeddings-by-context');
    expect(maxAbsDiff(before, after)).toBeGreaterThan(1e-4);
  });

  it('is refused in the relational context when it is the question vector the context already holds', () => {
    expect(() => parseRunConfig({ model: { relational: { guideInContext: true } } }, 'cfg.json')).toThrow(
      'cfg.json: model.relational.guideInContext needs an image attention guided by the words',
    );
    expect(parseRunConfig({ model: { imageAttention: { query: 'word-embeddings' }, relational: { guideInContext: true } } }, 'cfg.json').model.relational?.guideInContext).toBe(
      true,
    );
  });
});

/** Answer logits of one image and token sequence, with the transformer's final norm zeroed so that every word state is 0 and the question glimpses weight the real words equally. */
function logitsWithStatesZeroed(values: 'word-states' | 'word-embeddings', sequences: number[][]): number[][] {
  const model = new VqaModel(tinyConfig({ model: { questionAttention: { hidden: 8, glimpses: 2, values } } }), TOKENIZER, new AnswerVocab(['yes', 'no', 'red']));
  for (const [name, v] of model.net.store.entries()) if (name.startsWith('language.norm.')) v.assign(tf.zerosLike(v));
  const t = model.config.model.language.maxTokens;
  const images = tf.randomNormal([1, 24, 24, 3], 0, 1, 'float32', 2);
  const out = sequences.map((ids) => tf.tidy(() => Array.from(model.net.forward(oneQuestion(images, ids, t), false).logits.dataSync())));
  images.dispose();
  model.dispose();
  return out;
}

describe('the question vector (questionAttention.values)', () => {
  const [question, shuffled, oneWordChanged] = [
    [3, 4, 5, 6, 7],
    [7, 5, 3, 6, 4],
    [3, 4, 5, 6, 8],
  ];

  it("'word-embeddings' pools the token embeddings: with equal weights it is their mean, blind to order but not to the words", () => {
    const [a, b, c] = logitsWithStatesZeroed('word-embeddings', [question, shuffled, oneWordChanged]);
    // the same five embeddings summed in another order: float32 rounding only
    expect(maxAbsDiff(a!, b!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(a!, c!)).toBeGreaterThan(1e-4);
  });

  it("'word-states' pools the states, which are all zero here: another word changes nothing", () => {
    const [a, , c] = logitsWithStatesZeroed('word-states', [question, shuffled, oneWordChanged]);
    expect(maxAbsDiff(a!, c!)).toBe(0);
  });
});
