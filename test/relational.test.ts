import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { ParamStore } from '../src/nn/params.ts';
import { inference } from '../src/nn/eager_ops.ts';
import { RelationalModule, RelationalSchema } from '../src/modules/relational.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { stagesOn } from '../src/config/config.ts';
import { train } from '../src/train/train.ts';
import { maxAbsDiff, tempDir, tinyClevr, tinyConfig, trainVocabularies, useWasm } from './helpers.ts';

let dataDir: string;

beforeAll(async () => {
  await useWasm();
  dataDir = await tinyClevr('relational-data', { train: 24, val: 6, seed: 5, questionsPerImage: 6 });
});

const relu = (x: number) => Math.max(0, x);
/** x·W + b for one row x, W as [in, out] row-major. */
function dense(x: number[], w: Float32Array, b: Float32Array): number[] {
  return Array.from(b, (bias, j) => x.reduce((s, xi, i) => s + xi * w[i * b.length + j]!, bias));
}

describe('the relational module', () => {
  it.each([
    [false, 'none'],
    [true, 'none'],
    [true, 'layer'],
  ] as const)(
    'equals its formula: g_n = MLP([r_n, context]); [Σ_n g_n / √N (standardised with sum norm layer), Σ_n softmax_n(g_n·W_a + s(q)·‖c_n − p‖²)·r_n] (distance score: %s, sum norm: %s)',
    (distanceScore, sumNorm) => {
      const [b, d, ctx, qDim, hidden, width, glimpses] = [3, 5, 6, 4, 7, 3, 2];
      const grid: [number, number] = [2, 3];
      const n = grid[0] * grid[1];
      const store = new ParamStore(3);
      const cfg = RelationalSchema.parse({ kind: 'relational', hidden, width, distanceScore, sumNorm });
      const module = new RelationalModule(store, cfg, { d, contextDim: ctx, questionDim: qDim, glimpses, grid });
      const regions = tf.randomNormal([b, n, d], 0, 1, 'float32', 1);
      const context = tf.randomNormal([b, ctx], 0, 1, 'float32', 2);
      const anchor = tf.softmax(tf.randomNormal([b, glimpses, n], 0, 2, 'float32', 3));
      const question = tf.randomNormal([b, qDim], 0, 1, 'float32', 4);
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => {
        const o = module.forward(inference, { regions, context, anchor, question });
        return [o.features, o.weights];
      });
      expect(tf.memory().numTensors).toBe(before + 2);
      const [features, weights] = out.map((t) => t.arraySync() as number[][] | number[][][]) as [number[][], number[][][]];
      expect(out[0]!.shape).toEqual([b, width + glimpses * d]);
      expect(out[1]!.shape).toEqual([b, glimpses, n]);

      const p = (name: string) => store.get(`relational.${name}`).dataSync() as Float32Array;
      const c = context.arraySync() as number[][];
      const a = anchor.arraySync() as number[][][];
      // region centres in [-1, 1], x then y, row by row: the CNN's coordinate channels
      const centres = Array.from({ length: n }, (_, i) => [-1 + (i % grid[1]), -1 + 2 * Math.floor(i / grid[1])]);
      const qs = question.arraySync() as number[][];
      for (let q = 0; q < b; q++) {
        const r = (regions.arraySync() as number[][][])[q]!;
        const looked = a[q]!.map((w) => [0, 1].map((k) => w.reduce((s, wn, i) => s + wn * centres[i]![k]!, 0)));
        const squared = centres.map(([cx, cy]) => looked.map(([x, y]) => (cx! - x!) ** 2 + (cy! - y!) ** 2)); // [N, G]
        const ctxPart = dense(c[q]!, p('context.w'), p('context.b'));
        const g = r.map((rn) => {
          const h = dense(rn, p('region.w'), p('region.b')).map((v, j) => relu(v + ctxPart[j]!));
          return dense(h, p('out.w'), p('out.b')).map(relu);
        });
        const sum = Array.from({ length: width }, (_, j) => g.reduce((s, gn) => s + gn[j]!, 0) / Math.sqrt(n));
        const mean = sum.reduce((s, v) => s + v, 0) / width;
        const variance = sum.reduce((s, v) => s + (v - mean) ** 2, 0) / width;
        const summed = sumNorm === 'layer' ? sum.map((v) => (v - mean) / Math.sqrt(variance + 1e-5)) : sum;
        const scale = distanceScore ? dense(qs[q]!, p('distanceScore.w'), p('distanceScore.b')) : [0, 0];
        const logits = g.map((gn, i) => dense(gn, p('glimpses.w'), p('glimpses.b')).map((l, gl) => l + scale[gl]! * squared[i]![gl]!));
        const expectedWeights = Array.from({ length: glimpses }, (_, gl) => {
          const e = logits.map((l) => Math.exp(l[gl]!));
          const total = e.reduce((s, v) => s + v, 0);
          return e.map((v) => v / total);
        });
        const pooled = expectedWeights.flatMap((w) => Array.from({ length: d }, (_, k) => w.reduce((s, wn, i) => s + wn * r[i]![k]!, 0)));
        // float32 against float64, sums of at most 7 terms of order 1: 1e-5
        expect(maxAbsDiff(features[q]!, [...summed, ...pooled])).toBeLessThan(1e-5);
        expect(maxAbsDiff(weights[q]!.flat(), expectedWeights.flat())).toBeLessThan(1e-5);
      }
      tf.dispose([regions, context, anchor, question, ...out]);
      store.dispose();
    },
  );

  it('staged, is off during the curriculum epochs; not staged, it has no switch and answers in every epoch', () => {
    const staged = tinyConfig({ model: { modules: [{ kind: 'relational' }] }, train: { epochs: 4, curriculum: { epochs: 2, questionTypes: ['exist'] } } });
    expect([0, 1, 2, 3].map((e) => stagesOn(staged, e))).toEqual([false, false, true, true]);
    const always = tinyConfig({ model: { modules: [{ kind: 'relational', staged: false }] } });
    const model = new VqaModel(always, QuestionTokenizer.build(['a']).files, new AnswerVocab(['a', 'b']));
    expect(model.net.stagesOn).toBeUndefined();
    model.net.setStagesOn(false); // nothing to switch off
    expect(model.net.stagesAnswer()).toBe(true);
    model.dispose();
  });

  it('staged behind a curriculum, its weights stay at their initial values through it and train after, on two workers; until then validation and the saved model answer with it off', async () => {
    const backend = await selectBackend('wasm');
    const config = tinyConfig({
      model: { modules: [{ kind: 'relational', hidden: 8, width: 4 }] },
      train: { epochs: 1, workers: 2, curriculum: { epochs: 1, questionTypes: ['exist', 'count'] } },
    });
    const { tokenizer, answers } = trainVocabularies(dataDir, config.train.answers);
    const initial = new VqaModel(config, tokenizer, answers); // the weights a new run starts from
    const out = path.join(tempDir('relational-run'), 'run');
    const first = await train({ dataDir, outDir: out, config, backend, resume: false, log: () => {} });
    const names = [...initial.net.store.trainable().keys()].filter((name) => name.startsWith('relational.'));
    expect(names).toHaveLength(8);
    const moved = (a: VqaModel, b: VqaModel, name: string) => maxAbsDiff(a.net.store.get(name).dataSync(), b.net.store.get(name).dataSync());
    for (const name of names) expect(moved(initial, first.model, name), name).toBe(0);
    expect(moved(initial, first.model, 'fusion.x.w')).toBeGreaterThan(1e-4); // the rest did train
    // validation and the saved model answer as the epoch trained: with the module off
    const saved = VqaModel.load(path.join(out, 'model')).model;
    expect([first.model.net.stagesAnswer(), saved.net.stagesAnswer()]).toEqual([false, false]);
    const inputs = {
      images: tf.randomNormal([2, 24, 24, 3], 0, 1, 'float32', 7),
      imageIndex: tf.tensor1d([0, 1, 1], 'int32'),
      tokens: tf
        .tensor2d(
          [
            [1, 2, 3],
            [4, 5, 0],
            [2, 6, 0],
          ],
          undefined,
          'int32',
        )
        .pad([
          [0, 0],
          [0, config.model.language.maxTokens - 3],
        ]),
      mask: tf
        .tensor2d([
          [1, 1, 1],
          [1, 1, 0],
          [1, 1, 0],
        ])
        .pad([
          [0, 0],
          [0, config.model.language.maxTokens - 3],
        ]) as tf.Tensor2D,
    };
    const probabilities = (on: boolean) => {
      saved.net.setStagesOn(on);
      return tf.tidy(() => tf.softmax(saved.net.forward(inference, inputs).logits).arraySync() as number[][]);
    };
    const predicted = (await saved.predict(inputs, answers.size)).map((p) => answers.answers.map((a) => p.answers.find((x) => x.answer === a)!.score));
    expect(maxAbsDiff(predicted.flat(), probabilities(false).flat())).toBeLessThan(1e-6); // the same graph
    expect(maxAbsDiff(probabilities(true).flat(), probabilities(false).flat())).toBeGreaterThan(1e-4); // which the switch changes
    const second = await train({ dataDir, outDir: out, config: { ...config, train: { ...config.train, epochs: 2 } }, backend, resume: true, log: () => {} });
    for (const name of names.filter((n) => n.endsWith('.w'))) expect(moved(first.model, second.model, name), name).toBeGreaterThan(1e-4);
    const savedAfter = VqaModel.load(path.join(out, 'model')).model;
    expect([second.model.net.stagesAnswer(), savedAfter.net.stagesAnswer()]).toEqual([true, true]);
    tf.dispose(Object.values(inputs));
    for (const m of [initial, first.model, second.model, saved, savedAfter]) m.dispose();

    // whether it answers is a weight of the model, not read from its card
    const cardFile = path.join(out, 'model', 'model-card.json');
    const { epochs: _epochs, ...withoutEpochs } = JSON.parse(fs.readFileSync(cardFile, 'utf8'));
    fs.writeFileSync(cardFile, JSON.stringify(withoutEpochs));
    fs.rmSync(path.join(out, 'model', 'checksums.json')); // an edited folder: read as one from before checksums
    const withoutCardEpochs = VqaModel.load(path.join(out, 'model')).model;
    expect(withoutCardEpochs.net.stagesAnswer()).toBe(true);
    withoutCardEpochs.dispose();
  });
});
