import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { loadDataset } from '../src/data/manifest.ts';
import { loadSplit } from '../src/data/split.ts';
import { openSplitInputs } from '../src/inputs/split_inputs.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { loadWordVectors } from '../src/language/word_vectors.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { Adam, adamOptions } from '../src/train/adam.ts';
import { batchArrays, batchTensors, inOrderBatches } from '../src/inputs/batches.ts';
import { DataParallelRunner } from '../src/train/data_parallel.ts';
import { computeGradients } from '../src/train/step.ts';
import { train } from '../src/train/train.ts';
import { maxAbsDiff, tempDir, tinyConfig, useWasm, tinyClevr, trainVocabularies } from './helpers.ts';

let dataDir: string;

beforeAll(async () => {
  await useWasm();
  dataDir = await tinyClevr('dp-data', { train: 24, val: 6, seed: 8, questionsPerImage: 6 });
});

describe('a training batch (inputs/batches.ts)', () => {
  it("holds each question's token ids up to the batch's longest question, its mask marking the real ones", async () => {
    const config = tinyConfig({ model: { language: { maxTokens: 30, layers: 1, heads: 2 } } });
    const ds = loadDataset(dataDir);
    const { tokenizer, answers } = trainVocabularies(dataDir, 100);
    const model = new VqaModel(config, tokenizer, answers);
    const { split, images, questions: rows } = await openSplitInputs(model, {}, ds, 'train', { skipBad: false });
    const samples = split.samples.slice(0, 9);
    const lengths = samples.map((s) => rows.encode(s.question).tokens.length);
    const a = batchArrays(samples, images, rows, model.answers);
    expect(a.maxTokens).toBe(Math.max(...lengths));
    expect(a.maxTokens).toBeLessThan(30);
    samples.forEach((s, b) => {
      const full = rows.encode(s.question).values;
      expect([...a.text.subarray(b * a.maxTokens, (b + 1) * a.maxTokens)]).toEqual([...full.subarray(0, a.maxTokens)]);
      expect(a.mask.subarray(b * a.maxTokens, (b + 1) * a.maxTokens).reduce((x, y) => x + y, 0)).toBe(lengths[b]);
    });
    model.dispose();
  });
});

describe('data-parallel training over worker threads', () => {
  it('equals one thread accumulating the same shards’ gradients, up to float rounding, the rate scales on and off as the step says', async () => {
    const config = tinyConfig({ model: { dropout: 0 }, train: { rateScale: { 'vision.': 0.25 } } });
    const ds = loadDataset(dataDir);
    const { tokenizer, answers } = trainVocabularies(dataDir, 100);
    const reference = new VqaModel(config, tokenizer, answers);
    const { split, images, questions: rows } = await openSplitInputs(reference, {}, ds, 'train', { skipBad: false });
    const make = (m: VqaModel) => (samples: typeof split.samples) => batchArrays(samples, images, rows, m.answers);
    const parallelModel = new VqaModel(config, tokenizer, answers);
    const runner = await DataParallelRunner.start(parallelModel, 2, 'wasm', make(parallelModel));
    const adam = new Adam(reference.net.store.trainable(), adamOptions(config.train));
    const batches = inOrderBatches(split.samples, 13).slice(0, 3);
    for (const [step, samples] of batches.entries()) {
      const scaled = step !== 1; // the middle step as in a curriculum epoch: no rate scales
      await runner.step(samples, 3e-3, scaled);
      // Reference: shards of ⌈13/2⌉ = 7 and 6 questions, gradients weighted by shard size, one Adam step.
      const shards = [samples.slice(0, 7), samples.slice(7)];
      const sums: Record<string, tf.Tensor> = {};
      for (const shard of shards) {
        const batch = batchTensors(make(reference)(shard));
        const g = computeGradients(reference, batch, scaled);
        for (const [name, grad] of Object.entries(g.grads)) {
          const weighted = tf.mul(grad, shard.length / samples.length);
          const prev = sums[name];
          sums[name] = prev ? tf.add(prev, weighted) : weighted;
          prev?.dispose();
        }
        tf.dispose([g.loss, g.predicted, ...Object.values(g.grads), ...Object.values(batch.inputs), ...(batch.targets ? [batch.targets] : [])]);
      }
      tf.dispose([adam.apply(sums, 3e-3, scaled), ...Object.values(sums)]);
    }
    await runner.syncInto(parallelModel);
    await runner.dispose();
    // Biases whose true gradient is zero (softmax is shift-invariant: attention-logit biases and the
    // key bias) get pure rounding noise, which Adam scales to steps of ±lr; all else must agree to 3e-5,
    // 1% of one step: Adam divides by √v, so where a gradient is small the rounding of the two
    // differently ordered sums is magnified (measured: 1.7e-6 on wasm's kernels, 1.2e-5 on BLAS's).
    const invariant = new Set(['qatt.out.b', 'iatt.out.b', 'language.layer0.qkv.b']);
    for (const [name, v] of reference.net.store.trainable()) {
      const diff = maxAbsDiff(v.dataSync(), parallelModel.net.store.get(name).dataSync());
      expect(diff, name).toBeLessThan(invariant.has(name) ? 3 * 3e-3 : 3e-5);
    }
    // and the models really moved away from their shared initialisation
    const init = new VqaModel(config, tokenizer, answers);
    expect(maxAbsDiff(init.net.store.get('classifier.w').dataSync(), parallelModel.net.store.get('classifier.w').dataSync())).toBeGreaterThan(1e-3);
    for (const m of [reference, parallelModel, init]) m.dispose();
    adam.dispose();
  });

  it('reads words through the shipped GloVe table in each worker, as one thread does', async () => {
    const config = tinyConfig({ model: { dropout: 0, language: { maxTokens: 40, layers: 1, heads: 2, wordVectors: 'glove-6b-100d' } } });
    const ds = loadDataset(dataDir);
    const questions = loadSplit(ds, 'train').samples;
    const tokenizer = QuestionTokenizer.withWordVectors(
      questions.map((s) => s.question),
      loadWordVectors('glove-6b-100d').words,
    ).files;
    const answers = AnswerVocab.build(
      questions.map((s) => s.annotation!),
      100,
    );
    const reference = new VqaModel(config, tokenizer, answers);
    const { split, images, questions: rows } = await openSplitInputs(reference, {}, ds, 'train', { skipBad: false });
    const make = (samples: typeof split.samples) => batchArrays(samples, images, rows, reference.answers);
    const parallelModel = new VqaModel(config, tokenizer, answers);
    const runner = await DataParallelRunner.start(parallelModel, 2, 'wasm', make);
    const samples = inOrderBatches(split.samples, 12)[0]!;
    const { loss } = await runner.step(samples, 1e-3, true);
    await runner.dispose();
    // the loss before the step, over the same two shards of 6 on one thread
    let expected = 0;
    for (const shard of [samples.slice(0, 6), samples.slice(6)]) {
      const batch = batchTensors(make(shard));
      const g = computeGradients(reference, batch, true);
      expected += (g.loss.dataSync()[0]! * shard.length) / samples.length;
      tf.dispose([g.loss, g.predicted, ...Object.values(g.grads), ...Object.values(batch.inputs), ...(batch.targets ? [batch.targets] : [])]);
    }
    expect(Math.abs(loss - expected)).toBeLessThan(1e-5);
    for (const m of [reference, parallelModel]) m.dispose();
  });

  it('trains end to end with two workers, lowers the loss, and resumes', async () => {
    const out = path.join(tempDir('dp-run'), 'run');
    const backend = await selectBackend('wasm');
    const { model, history } = await train({ dataDir, outDir: out, config: tinyConfig({ train: { epochs: 3, workers: 2 } }), backend, resume: false, log: () => {} });
    expect(history[2]!.loss).toBeLessThan(history[0]!.loss);
    model.dispose();
    const resumed = await train({ dataDir, outDir: out, config: tinyConfig({ train: { epochs: 4, workers: 2 } }), backend, resume: true, log: () => {} });
    expect(resumed.history.map((m) => m.epoch)).toEqual([0, 1, 2, 3]);
    resumed.model.dispose();
  });
});
