import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { Rng } from '../src/util/rng.ts';
import { loadOnnxRuntime, OnnxPredictor } from '../src/infer/onnx_predictor.ts';
import { TfjsPredictor, topIndices } from '../src/infer/predictor.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { vocabularySize } from '../src/language/tokenizer_files.ts';
import { inputShapes } from '../src/config/config.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import type { BatchArrays } from '../src/inputs/batches.ts';
import { maxAbsDiff, tinyConfig, useWasm } from './helpers.ts';

const ANSWERS = new AnswerVocab(['red', 'blue', 'green', 'gray', '0', '1', '2', '3', 'yes', 'no', 'left', 'right']);
const TOKENIZER = QuestionTokenizer.build(['what color is the large circle', 'how many small squares are left of the cube', 'is there a red thing']).files;
let ort: Exclude<Awaited<ReturnType<typeof loadOnnxRuntime>>, string>;

beforeAll(async () => {
  await useWasm();
  const loaded = await loadOnnxRuntime();
  if (typeof loaded === 'string') throw new Error(loaded);
  ort = loaded;
});

/** Every parameter drawn at random (std 0.3), batch-norm variances in [0.5, 1.5]: nothing sits at its neutral initial value. */
function randomize(model: VqaModel, seed: number): void {
  let i = 0;
  for (const [name, v] of model.net.store.entries()) {
    const value = name.endsWith('running_var') ? tf.randomUniform(v.shape, 0.5, 1.5, 'float32', seed + i++) : tf.randomNormal(v.shape, 0, 0.3, 'float32', seed + i++);
    v.assign(value);
    value.dispose();
  }
}

/** Five questions on three images, with 2 to all tokens real. */
function randomBatch(model: VqaModel, seed: number): BatchArrays {
  const cfg = model.config.model;
  const rng = new Rng(seed);
  const { imageShape, textWidth } = inputShapes(cfg);
  const [batch, images, t] = [5, 3, cfg.language.maxTokens];
  const perImage = imageShape.reduce((a, b) => a * b, 1);
  const vocabSize = vocabularySize(TOKENIZER);
  const mask = new Float32Array(batch * t);
  for (let b = 0; b < batch; b++) mask.fill(1, b * t, b * t + 2 + ((b * 3) % (t - 1)));
  const text =
    textWidth === 0
      ? Int32Array.from({ length: batch * t }, (_, i) => (mask[i] ? 1 + Math.floor(rng.next() * (vocabSize - 1)) : 0))
      : Float32Array.from({ length: batch * t * textWidth }, (_, i) => (mask[Math.floor(i / textWidth)] ? rng.next() * 2 - 1 : 0));
  return {
    batch,
    images,
    imageShape,
    imageValues: Float32Array.from({ length: images * perImage }, () => rng.next() * 2 - 1),
    imageIndex: Int32Array.from([0, 1, 0, 2, 1]),
    maxTokens: t,
    textWidth,
    text,
    mask,
    answers: 0,
  };
}

const pretrained = { vision: { kind: 'pretrained', model: 'tiny/resnet', width: 12, grid: [3, 4] }, language: { kind: 'pretrained', model: 'tiny/bert', width: 10, maxTokens: 9 } };

/** The model variants whose exported graphs are checked against tfjs. */
const VARIANTS: [string, object][] = [
  ['cnn + transformer, MFB (tiny default; 24 px: asymmetric "same" padding)', {}],
  [
    'MFH, attention norm joint, 21 px with a stride-1 conv',
    {
      imageSize: 21,
      vision: { channels: [8, 8, 16], strides: [2, 1, 2] },
      fusion: { kind: 'mfh', k: 3, o: 16 },
      imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, norm: 'joint' },
    },
  ],
  [
    'concat fusion, product in the attention, norm none',
    { fusion: { kind: 'concat', k: 1, o: 24 }, imageAttention: { k: 1, o: 8, hidden: 8, glimpses: 1, fusion: 'product', norm: 'none' } },
  ],
  ['product fusion, lowrank in the attention', { fusion: { kind: 'product', k: 1, o: 24 }, imageAttention: { k: 3, o: 8, hidden: 8, glimpses: 2, fusion: 'lowrank' } }],
  [
    'bilinear fusion, MFH in the attention, 3 question glimpses',
    { d: 8, questionAttention: { hidden: 8, glimpses: 3 }, fusion: { kind: 'bilinear', k: 1, o: 1 }, imageAttention: { k: 2, o: 6, hidden: 8, glimpses: 2, fusion: 'mfh' } },
  ],
  [
    'lowrank fusion, concat in the attention, two transformer layers',
    {
      language: { maxTokens: 10, layers: 2, heads: 4, ffnMultiplier: 1 },
      fusion: { kind: 'lowrank', k: 4, o: 20 },
      imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, fusion: 'concat' },
    },
  ],
  [
    'two attention hops, position embedding, scaled logits, no signed sqrt in the attention',
    {
      vision: { channels: [8, 16], strides: [2, 2], positionEmbedding: true },
      imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, norm: 'none', signedSqrt: false, logitScale: 10, hops: 2 },
    },
  ],
  ['attention guided by its own glimpses over the word embeddings, two hops', { imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, query: 'word-embeddings', hops: 2 } }],
  [
    'attention guided by glimpses over the word embeddings weighted from the word states, two hops',
    { imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, query: 'word-embeddings-by-context', hops: 2 } },
  ],
  ['three hops with lowrank in the attention', { imageAttention: { k: 3, o: 8, hidden: 8, glimpses: 1, fusion: 'lowrank', hops: 3 } }],
  [
    'relational module after one hop',
    { imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, norm: 'none', signedSqrt: false, query: 'word-embeddings' }, relational: { hidden: 12, width: 6 } },
  ],
  [
    'relational module with distance features after two hops, MFH fusion',
    { fusion: { kind: 'mfh', k: 2, o: 10 }, imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 1, hops: 2 }, relational: { hidden: 8, width: 4, distance: true } },
  ],
  [
    'relational module with distance scores (the Sort-of-CLEVR recipe)',
    {
      imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, norm: 'none', signedSqrt: false, query: 'word-embeddings' },
      relational: { hidden: 12, width: 6, distanceScore: true },
    },
  ],
  [
    'relational module with the guide in its context, words weighted by their states, spread-out positions (the clevr-lite recipe)',
    {
      language: { maxTokens: 12, layers: 1, heads: 2, ffnMultiplier: 2, positionStd: 1 },
      imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, norm: 'none', signedSqrt: false, query: 'word-embeddings-by-context' },
      relational: { hidden: 12, width: 6, distanceScore: true, guideInContext: true },
    },
  ],
  [
    'question vector pooled from the word embeddings, relational sum standardised (the clevr-lite recipe since the twelfth session)',
    {
      questionAttention: { hidden: 8, glimpses: 2, values: 'word-embeddings' },
      imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, norm: 'none', signedSqrt: false, query: 'word-embeddings-by-context' },
      relational: { hidden: 12, width: 6, distanceScore: true, guideInContext: true, sumNorm: 'layer' },
    },
  ],
  [
    'where each glimpse looked into the fusion, two hops and the relational module',
    {
      questionAttention: { hidden: 8, glimpses: 2, values: 'word-embeddings' },
      imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, norm: 'none', signedSqrt: false, query: 'word-embeddings-by-context', hops: 2, positions: 3 },
      relational: { hidden: 12, width: 6, distanceScore: true, guideInContext: true, sumNorm: 'layer' },
    },
  ],
  [
    "places and the product of hop 1's two objects, staged with the relational module",
    {
      questionAttention: { hidden: 8, glimpses: 2, values: 'word-embeddings' },
      imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, norm: 'none', signedSqrt: false, query: 'word-embeddings', guidePerGlimpse: true, positions: 30, pair: { k: 3, o: 6 } },
      relational: { hidden: 12, width: 6, distanceScore: true, sumNorm: 'layer' },
    },
  ],
  [
    'a guide glimpse per image glimpse, with its slope over the words',
    { imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, norm: 'none', signedSqrt: false, query: 'word-embeddings-by-context', guidePerGlimpse: true, guideSlope: 3 } },
  ],
  ['question vector pooled from the word embeddings, attention guided by the question vector', { questionAttention: { hidden: 8, glimpses: 2, values: 'word-embeddings' } }],
  ['blind (question only)', { blind: true }],
  ['pretrained image and text features', pretrained],
];

describe('ONNX export run by onnxruntime', () => {
  it.each(VARIANTS)('%s: answers and attention equal the tfjs forward pass', async (_name, overrides) => {
    const model = new VqaModel(tinyConfig({ model: overrides }), TOKENIZER, ANSWERS);
    randomize(model, 11);
    const batch = randomBatch(model, 5);
    const tensorsBefore = tf.memory().numTensors;
    const onnx = await OnnxPredictor.create(ort, model, 1);
    expect(tf.memory().numTensors).toBe(tensorsBefore); // the export reads weights and frees what it computes
    const [fromOnnx, fromTfjs] = [await onnx.predict(batch, ANSWERS.size), await new TfjsPredictor(model).predict(batch, ANSWERS.size)];
    fromTfjs.forEach((expected, b) => {
      const got = fromOnnx[b]!;
      const scores = (p: typeof got) => ANSWERS.answers.map((a) => p.answers.find((x) => x.answer === a)!.score);
      // float32 with batch norm folded into the convolutions and a different summation order: 1e-5
      expect(maxAbsDiff(scores(got), scores(expected))).toBeLessThan(1e-5);
      expect(got.answers[0]!.answer).toBe(expected.answers[0]!.answer);
      expect(maxAbsDiff(got.questionAttention.flat(), expected.questionAttention.flat())).toBeLessThan(1e-5);
      expect(maxAbsDiff(got.imageAttention.flat(), expected.imageAttention.flat())).toBeLessThan(1e-5);
    });
    // the parameters were far from their initial values: the answers are not uniform
    expect(Math.max(...fromTfjs.map((p) => p.answers[0]!.score))).toBeGreaterThan(1.3 / ANSWERS.size);
    model.dispose();
  });

  it('a staged relational module still waiting for its curriculum (net.relationalOn false) is off in the export too', async () => {
    const recipe = VARIANTS.find(([name]) => name.startsWith('relational module with distance scores'))![1];
    const model = new VqaModel(tinyConfig({ model: recipe }), TOKENIZER, ANSWERS);
    randomize(model, 17);
    const batch = randomBatch(model, 4);
    const scores = (ps: Awaited<ReturnType<TfjsPredictor['predict']>>) => ps.flatMap((p) => ANSWERS.answers.map((a) => p.answers.find((x) => x.answer === a)!.score));
    const on = scores(await new TfjsPredictor(model).predict(batch, ANSWERS.size));
    model.net.relationalOn = false;
    const offTfjs = scores(await new TfjsPredictor(model).predict(batch, ANSWERS.size));
    const offOnnx = scores(await (await OnnxPredictor.create(ort, model, 1)).predict(batch, ANSWERS.size));
    expect(maxAbsDiff(offTfjs, on)).toBeGreaterThan(1e-3); // the switch changes the answers
    expect(maxAbsDiff(offOnnx, offTfjs)).toBeLessThan(1e-5); // tolerance as above
    model.dispose();
  });

  it('takes the batch size from its inputs: one question alone gets the same answer as in a batch', async () => {
    const model = new VqaModel(tinyConfig(), TOKENIZER, ANSWERS);
    randomize(model, 3);
    const onnx = await OnnxPredictor.create(ort, model, 2);
    const batch = randomBatch(model, 9);
    const together = await onnx.predict(batch, 3);
    const t = batch.maxTokens;
    const perImage = batch.imageShape.reduce((a, b) => a * b, 1);
    const row = batch.imageIndex[3]!;
    const alone = await onnx.predict(
      {
        ...batch,
        batch: 1,
        images: 1,
        imageValues: batch.imageValues.slice(row * perImage, (row + 1) * perImage),
        imageIndex: Int32Array.of(0),
        text: batch.text.slice(3 * t, 4 * t),
        mask: batch.mask.slice(3 * t, 4 * t),
      },
      3,
    );
    expect(alone[0]!.answers.map((a) => a.answer)).toEqual(together[3]!.answers.map((a) => a.answer));
    expect(
      maxAbsDiff(
        alone[0]!.answers.map((a) => a.score),
        together[3]!.answers.map((a) => a.score),
      ),
    ).toBeLessThan(1e-6);
    expect(onnx.runtime).toMatch(/^onnxruntime 1\.\d+\.\d+ \(cpu, 2 threads\)$/);
    model.dispose();
  });
});

describe('topIndices', () => {
  it('gives the k largest, best first, lower index first among ties', () => {
    const probs = Float32Array.from([0.1, 0.3, 0.05, 0.3, 0.25, /* row 1 */ 0.5, 0.1, 0.2, 0.1, 0.1]);
    expect(topIndices(probs, 0, 5, 3)).toEqual([1, 3, 4]);
    expect(topIndices(probs, 1, 5, 2)).toEqual([0, 2]);
    expect(topIndices(probs, 1, 5, 5)).toEqual([0, 2, 1, 3, 4]);
  });
});
