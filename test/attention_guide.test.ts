import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { parseRunConfig } from '../src/config/config.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { inference } from '../src/nn/eager_ops.ts';
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
function attentionBeforeAndAfterChangingTheLayers(weights: 'embeddings' | 'states'): [number[], number[]] {
  const model = new VqaModel(tinyConfig({ model: { modules: [{ kind: 'word-guide', weights }] } }), TOKENIZER, new AnswerVocab(['yes', 'no']));
  const t = model.config.model.language.maxTokens;
  const ids = [3, 4, 5, 6, 7, 8, 9, 10];
  const inputs = oneQuestion(tf.randomNormal([1, 24, 24, 3], 0, 1, 'float32', 2), ids, t);
  const attention = () => tf.tidy(() => Array.from(model.net.forward(inference, inputs).imageAttention.dataSync()));
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

describe('the word-guide module', () => {
  it("with weights from the embeddings reads the token embeddings alone: the transformer's layers do not move the attention", () => {
    const [before, after] = attentionBeforeAndAfterChangingTheLayers('embeddings');
    expect(maxAbsDiff(before, after)).toBe(0);
  });

  it("with weights from the word states: the transformer's layers do move the attention", () => {
    const [before, after] = attentionBeforeAndAfterChangingTheLayers('states');
    expect(maxAbsDiff(before, after)).toBeGreaterThan(1e-4);
  });

  it('is what an answer reports as the words that chose where the image glimpses look', () => {
    // A slope of 50 puts glimpse 1 on the first word and glimpse 2 on the last, whatever the words;
    // the question attention's own glimpses have no such prior.
    const model = new VqaModel(
      tinyConfig({ model: { modules: [{ kind: 'word-guide', weights: 'states', perGlimpse: true, slope: 50 }] } }),
      TOKENIZER,
      new AnswerVocab(['yes', 'no']),
    );
    const ids = [3, 4, 5, 6, 7, 8];
    const inputs = oneQuestion(tf.randomNormal([1, 24, 24, 3], 0, 1, 'float32', 2), ids, model.config.model.language.maxTokens);
    const [first, second] = tf.tidy(() => model.net.forward(inference, inputs).questionAttention.arraySync() as number[][][])[0]!;
    expect(first![0]).toBeGreaterThan(0.99);
    expect(second![ids.length - 1]).toBeGreaterThan(0.99);
    tf.dispose(Object.values(inputs));
    model.dispose();
  });

  it('with a shared score: the glimpses differ only by their place slopes', () => {
    // w_g ∝ exp(score + s_g·place), so log(w_2 / w_1) is (s_2 − s_1)·place plus a constant: it
    // rises by the same step from each word to the next. Separate scores would add a term per word.
    const model = new VqaModel(
      tinyConfig({ model: { modules: [{ kind: 'word-guide', weights: 'states', perGlimpse: true, slope: 4, sharedScore: true }] } }),
      TOKENIZER,
      new AnswerVocab(['yes', 'no']),
    );
    expect(model.net.store.get('iatt.wordatt.out.w').shape).toEqual([model.config.model.attention.hidden, 1]);
    const ids = [3, 4, 5, 6, 7, 8, 9];
    const inputs = oneQuestion(tf.randomNormal([1, 24, 24, 3], 0, 1, 'float32', 2), ids, model.config.model.language.maxTokens);
    const [first, second] = tf.tidy(() => model.net.forward(inference, inputs).questionAttention.arraySync() as number[][][])[0]!;
    const logRatio = ids.map((_, t) => Math.log(second![t]! / first![t]!));
    const steps = logRatio.slice(1).map((r, t) => r - logRatio[t]!);
    const step = 8 / (ids.length - 1); // the slopes start at −4 and +4 over places −½ … ½
    for (const s of steps) expect(s).toBeCloseTo(step, 4);
    expect(maxAbsDiff(first!, second!)).toBeGreaterThan(0.05);
    tf.dispose(Object.values(inputs));
    model.dispose();
  });

  it('with a shared score needs a slope', () => {
    expect(() => parseRunConfig({ model: { modules: [{ kind: 'word-guide', sharedScore: true }] } }, 'cfg.json')).toThrow(
      'cfg.json: model.modules word-guide.sharedScore needs a slope > 0',
    );
  });

  it('is needed by a relational module with the guide in its context', () => {
    expect(() => parseRunConfig({ model: { modules: [{ kind: 'relational', guideInContext: true }] } }, 'cfg.json')).toThrow(
      'cfg.json: model.modules relational.guideInContext needs the word-guide module',
    );
    const cfg = parseRunConfig({ model: { modules: [{ kind: 'word-guide' }, { kind: 'relational', guideInContext: true }] } }, 'cfg.json');
    expect(cfg.model.modules.map((m) => m.kind)).toEqual(['word-guide', 'relational']);
  });
});

/** Answer logits of one image and token sequence, with the transformer's final norm zeroed so that every word state is 0 and the question glimpses weight the real words equally. */
function logitsWithStatesZeroed(values: 'word-states' | 'word-embeddings', sequences: number[][]): number[][] {
  const modules = values === 'word-embeddings' ? [{ kind: 'embedding-question' }] : [];
  const model = new VqaModel(tinyConfig({ model: { modules } }), TOKENIZER, new AnswerVocab(['yes', 'no', 'red']));
  for (const [name, v] of model.net.store.entries()) if (name.startsWith('language.norm.')) v.assign(tf.zerosLike(v));
  const t = model.config.model.language.maxTokens;
  const images = tf.randomNormal([1, 24, 24, 3], 0, 1, 'float32', 2);
  const out = sequences.map((ids) => tf.tidy(() => Array.from(model.net.forward(inference, oneQuestion(images, ids, t)).logits.dataSync())));
  images.dispose();
  model.dispose();
  return out;
}

describe('the question vector (the embedding-question module pools the embeddings)', () => {
  const [question, shuffled, oneWordChanged] = [
    [3, 4, 5, 6, 7],
    [7, 5, 3, 6, 4],
    [3, 4, 5, 6, 8],
  ];

  it('with the module it pools the token embeddings: with equal weights it is their mean, blind to order but not to the words', () => {
    const [a, b, c] = logitsWithStatesZeroed('word-embeddings', [question, shuffled, oneWordChanged]);
    // the same five embeddings summed in another order: float32 rounding only
    expect(maxAbsDiff(a!, b!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(a!, c!)).toBeGreaterThan(1e-4);
  });

  it('without it pools the states, which are all zero here: another word changes nothing', () => {
    const [a, , c] = logitsWithStatesZeroed('word-states', [question, shuffled, oneWordChanged]);
    expect(maxAbsDiff(a!, c!)).toBe(0);
  });
});
