import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { Rng } from '../src/util/rng.ts';
import onnxProto from 'onnx-proto';
import { vqaModelToOnnx } from '../src/export/export_model.ts';
import { FLOAT16_MIN_VALUES, OnnxGraph } from '../src/nn/onnx_graph.ts';
import { fromFloat16Bits, toFloat16Array } from '../src/nn/float16.ts';
import { loadOnnxRuntime, OnnxPredictor } from '../src/infer/onnx_predictor.ts';
import { TfjsPredictor, topIndices } from '../src/infer/predictor.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { vocabularySize } from '../src/language/tokenizer_files.ts';
import { inputShapes } from '../src/config/config.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import type { BatchArrays } from '../src/inputs/batches.ts';
import { maxAbsDiff, tinyConfig, useWasm } from './helpers.ts';

/** the unseen-word factor: applied by the answer path (src/infer/answer.ts), which knows the question's words, not by the graph */
const ANSWER_PATH_ONLY = 'calibration.unseenWordScale';

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
    if (name === 'stages.on') continue; // a switch, 1: the staged modules answer
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
const attention = { k: 2, o: 8, hidden: 8, glimpses: 2 };
const VARIANTS: [string, object][] = [
  ['cnn + transformer, MFB (tiny default; 24 px: asymmetric "same" padding)', {}],
  [
    'MFH, attention norm joint, 21 px with a stride-1 conv',
    { imageSize: 21, vision: { channels: [8, 8, 16], strides: [2, 1, 2] }, fusion: { kind: 'mfh', k: 3, o: 16 }, attention: { ...attention, norm: 'joint' } },
  ],
  ['background-channels module (six input channels: the image and the image minus its border colour)', { modules: [{ kind: 'background-channels' }] }],
  ['white-background module (the background painted white before the CNN)', { modules: [{ kind: 'white-background', low: 4, high: 60 }] }],
  ['concat fusion, attention norm none', { fusion: { kind: 'concat', k: 1, o: 24 }, attention: { ...attention, glimpses: 1, norm: 'none' } }],
  ['product fusion', { fusion: { kind: 'product', k: 1, o: 24 }, attention }],
  ['bilinear fusion, 3 glimpses', { d: 8, fusion: { kind: 'bilinear', k: 1, o: 1 }, attention: { ...attention, glimpses: 3 } }],
  ['lowrank fusion, two transformer layers', { language: { maxTokens: 10, layers: 2, heads: 4 }, fusion: { kind: 'lowrank', k: 4, o: 20 }, attention }],
  [
    'word vectors with trained offsets, word guide from the embeddings',
    { language: { maxTokens: 12, layers: 1, heads: 2, wordVectors: 'glove-6b-100d', wordOffsetDropout: 0.5 }, attention, modules: [{ kind: 'word-guide' }] },
  ],
  ['word guide weighted from the embeddings', { attention, modules: [{ kind: 'word-guide' }] }],
  ['word guide weighted from the word states', { attention, modules: [{ kind: 'word-guide', weights: 'states' }] }],
  ['relational module after the word guide', { attention: { ...attention, norm: 'none' }, modules: [{ kind: 'word-guide' }, { kind: 'relational', hidden: 12, width: 6 }] }],
  [
    'relational module with distance scores (the Sort-of-CLEVR recipe)',
    { attention: { ...attention, norm: 'none' }, modules: [{ kind: 'word-guide' }, { kind: 'relational', hidden: 12, width: 6, distanceScore: true }] },
  ],
  [
    'relational module with the guide in its context, question from the embeddings, sum standardised',
    {
      attention: { ...attention, norm: 'none' },
      modules: [
        { kind: 'word-guide', weights: 'states' },
        { kind: 'embedding-question' },
        { kind: 'relational', hidden: 12, width: 6, distanceScore: true, guideInContext: true, sumNorm: 'layer' },
      ],
    },
  ],
  [
    'places, the glimpse pair and a guide glimpse per image glimpse with its slope (the clevr-lite recipe)',
    {
      attention: { ...attention, norm: 'none' },
      modules: [
        { kind: 'word-guide', weights: 'states', perGlimpse: true, slope: 3 },
        { kind: 'embedding-question' },
        { kind: 'relational', hidden: 12, width: 6, distanceScore: true, guideInContext: true, sumNorm: 'layer' },
        { kind: 'places', scale: 30 },
        { kind: 'glimpse-pair', k: 3, o: 6 },
      ],
    },
  ],
  [
    'a guide glimpse per image glimpse from one shared word score and two slopes',
    { attention: { ...attention, norm: 'none' }, modules: [{ kind: 'word-guide', weights: 'states', perGlimpse: true, slope: 3, sharedScore: true }] },
  ],
  ['places without the relational module, not staged', { attention, modules: [{ kind: 'places', scale: 3, staged: false }] }],
  ['question vector pooled from the word embeddings, attention guided by the question vector', { attention, modules: [{ kind: 'embedding-question' }] }],
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
      // the familiarity checks (random parameters: distances of any size): 1e-5 relative
      expect(Math.abs(got.imageDistance - expected.imageDistance)).toBeLessThan(1e-5 * Math.max(1, expected.imageDistance));
    });
    // the parameters were far from their initial values: the answers are not uniform
    expect(Math.max(...fromTfjs.map((p) => p.answers[0]!.score))).toBeGreaterThan(1.3 / ANSWERS.size);
    // every parameter (batch-norm statistics included) is one initializer under its own name, whoever reads it
    const initializers = onnxProto.onnx.ModelProto.decode(vqaModelToOnnx(model)).graph!.initializer!;
    const names = initializers.map((t) => t.name!);
    for (const [name, v] of model.net.store.entries()) {
      if (name === ANSWER_PATH_ONLY) continue;
      expect(
        names.filter((n) => n === name || n.startsWith(`${name}_`)),
        name,
      ).toEqual([name]);
      expect(initializers.find((t) => t.name === name)!.rawData!.byteLength, name).toBe(4 * v.size);
    }
    model.dispose();
  });

  it('--float16 halves the graph: parameters stored as float16 and cast where read, answers equal the tfjs forward with the weights rounded to float16', async () => {
    const model = new VqaModel(tinyConfig(), TOKENIZER, ANSWERS);
    randomize(model, 11);
    const full = vqaModelToOnnx(model);
    const half = vqaModelToOnnx(model, true);
    expect(half.byteLength).toBeLessThan(0.75 * full.byteLength); // the tiny model has many small parameters; the bundled one halves
    const stored = onnxProto.onnx.ModelProto.decode(half).graph!.initializer!;
    for (const [name, v] of model.net.store.entries()) {
      if (name === ANSWER_PATH_ONLY) continue;
      const bytes = stored.find((t) => t.name === name)!.rawData!.byteLength;
      expect(bytes, name).toBe((v.size >= FLOAT16_MIN_VALUES ? 2 : 4) * v.size);
    }
    // the reference: the tfjs forward with the same parameters rounded to float16
    for (const [, v] of model.net.store.entries()) {
      if (v.size < FLOAT16_MIN_VALUES) continue;
      const rounded = Float32Array.from(toFloat16Array(v.dataSync() as Float32Array), fromFloat16Bits);
      v.assign(tf.tensor(rounded, v.shape));
    }
    const batch = randomBatch(model, 6);
    const scores = (ps: Awaited<ReturnType<TfjsPredictor['predict']>>) => ps.flatMap((p) => ANSWERS.answers.map((a) => p.answers.find((x) => x.answer === a)!.score));
    const fromHalf = scores(await (await OnnxPredictor.create(ort, model, 1, half)).predict(batch, ANSWERS.size));
    const rounded = scores(await new TfjsPredictor(model).predict(batch, ANSWERS.size));
    const fromFull = scores(await (await OnnxPredictor.create(ort, model, 1, full)).predict(batch, ANSWERS.size));
    expect(maxAbsDiff(fromHalf, rounded)).toBeLessThan(1e-5); // the float32 graph's tolerance
    expect(maxAbsDiff(fromFull, rounded)).toBeGreaterThan(1e-4); // and rounding changed the answers' scores
    model.dispose();
  });

  it('staged modules still waiting for their curriculum (stages.on 0) are off in the export too', async () => {
    const recipe = VARIANTS.find(([name]) => name.startsWith('relational module with distance scores'))![1];
    const model = new VqaModel(tinyConfig({ model: recipe }), TOKENIZER, ANSWERS);
    randomize(model, 17);
    const batch = randomBatch(model, 4);
    const scores = (ps: Awaited<ReturnType<TfjsPredictor['predict']>>) => ps.flatMap((p) => ANSWERS.answers.map((a) => p.answers.find((x) => x.answer === a)!.score));
    const on = scores(await new TfjsPredictor(model).predict(batch, ANSWERS.size));
    model.net.setStagesOn(false);
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

describe('a batch cut to its longest question (inputs/batches.ts)', () => {
  // training and evaluation cut a batch's token ids after its longest question; the answers must not change
  it.each(VARIANTS.filter(([name]) => !name.startsWith('pretrained')))('%s: the same answers and attention as at the full length', async (_name, overrides) => {
    const model = new VqaModel(tinyConfig({ model: overrides }), TOKENIZER, ANSWERS);
    randomize(model, 13);
    const full = randomBatch(model, 5);
    const t = full.maxTokens;
    const length = Math.ceil(t / 2);
    // every question at most `length` tokens long, one exactly
    for (let b = 0; b < full.batch; b++) {
      const real = Math.min(b === 0 ? length : 2 + b, length);
      for (let i = 0; i < t; i++) {
        full.mask[b * t + i] = i < real ? 1 : 0;
        if (i >= real) full.text[b * t + i] = 0;
      }
    }
    const rowsCut = <A extends Int32Array | Float32Array>(a: A): A => {
      const out = new (a.constructor as new (n: number) => A)(full.batch * length);
      for (let b = 0; b < full.batch; b++) out.set(a.subarray(b * t, b * t + length), b * length);
      return out;
    };
    const cut: BatchArrays = { ...full, maxTokens: length, text: rowsCut(full.text), mask: rowsCut(full.mask) };
    const predictor = new TfjsPredictor(model);
    const [atFull, atCut] = [await predictor.predict(full, ANSWERS.size), await predictor.predict(cut, ANSWERS.size)];
    atFull.forEach((f, b) => {
      const c = atCut[b]!;
      expect(c.answers.map((a) => a.answer)).toEqual(f.answers.map((a) => a.answer));
      expect(
        maxAbsDiff(
          c.answers.map((a) => a.score),
          f.answers.map((a) => a.score),
        ),
      ).toBeLessThan(1e-5);
      expect(maxAbsDiff(c.imageAttention.flat(), f.imageAttention.flat())).toBeLessThan(1e-5);
      // each glimpse's word weights: the same on the tokens both have, none on the padding cut off
      expect(maxAbsDiff(c.questionAttention.flat(), f.questionAttention.map((g) => g.slice(0, length)).flat())).toBeLessThan(1e-5);
      expect(f.questionAttention.every((g) => g.slice(length).every((w) => Math.abs(w) < 1e-6))).toBe(true);
      expect(Math.abs(c.imageDistance - f.imageDistance)).toBeLessThan(1e-5 * Math.max(1, f.imageDistance));
    });
    model.dispose();
  });
});

describe('OnnxGraph constants', () => {
  it('stores each int32 scalar value once, however many nodes read it', () => {
    const g = new OnnxGraph();
    const first = g.int32Scalar(13);
    expect(g.int32Scalar(13)).toBe(first);
    expect(g.int32Scalar(7)).not.toBe(first);
    const initializers = onnxProto.onnx.ModelProto.decode(g.encode('test')).graph!.initializer!;
    expect(initializers.map((t) => t.int32Data)).toEqual([[13], [7]]);
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
