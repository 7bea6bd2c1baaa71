import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import type { ModelCard } from '../src/model/checkpoint.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { inference } from '../src/nn/eager_ops.ts';
import { maxAbsDiff, tempDir, tinyConfig, useWasm } from './helpers.ts';

beforeAll(useWasm);

const tokenizer = QuestionTokenizer.build(['what color is the circle']).files;
const answers = new AnswerVocab(['red', 'blue']);

describe('parameter names', () => {
  it("a checkpoint with the image attention's old MFB names (iatt.mfb…) loads to the same outputs", async () => {
    const model = new VqaModel(tinyConfig(), tokenizer, answers);
    const dir = path.join(tempDir('names'), 'model');
    await model.save(dir, { name: 'names', epochs: 1 } as ModelCard);
    const specsFile = path.join(dir, 'weights.json');
    fs.rmSync(path.join(dir, 'checksums.json')); // as a checkpoint of that time: written before checksums
    fs.writeFileSync(specsFile, fs.readFileSync(specsFile, 'utf8').replace(/"iatt\.fusion\./g, '"iatt.mfb.'));
    expect(fs.readFileSync(specsFile, 'utf8')).toContain('"iatt.mfb.x.w"');
    const { model: loaded } = VqaModel.load(dir);
    const { imageSize: s, language } = model.config.model;
    const t = language.maxTokens;
    const padded = (ids: number[]) => [...ids, ...new Array(t - ids.length).fill(0)];
    const questions = [
      [2, 3, 4],
      [3, 3],
      [4, 2, 5],
    ];
    const inputs = {
      images: tf.randomNormal([2, s, s, 3], 0, 1, 'float32', 3),
      imageIndex: tf.tensor1d([0, 1, 1], 'int32'),
      tokens: tf.tensor2d(questions.map(padded), [3, t], 'int32'),
      mask: tf.tensor2d(
        questions.map((q) => padded(q.map(() => 1))),
        [3, t],
      ),
    };
    const [a, b] = [model.net.forward(inference, inputs), loaded.net.forward(inference, inputs)];
    expect(maxAbsDiff(a.logits.dataSync(), b.logits.dataSync())).toBe(0);
    tf.dispose([a.logits, a.questionAttention, a.imageAttention, b.logits, b.questionAttention, b.imageAttention, ...Object.values(inputs)]);
    model.dispose();
    loaded.dispose();
  });

  it('seed each initial value: adding a module leaves every other parameter as it was drawn', () => {
    const values = (modules: object[]) => {
      const m = new VqaModel(tinyConfig({ model: { modules } }), tokenizer, answers);
      const v = new Map(m.net.store.entries().map(([name, p]) => [name, Array.from(p.dataSync())]));
      m.dispose();
      return v;
    };
    const plain = values([]);
    const withModules = values([{ kind: 'word-guide' }, { kind: 'relational' }]);
    expect(withModules.size).toBeGreaterThan(plain.size);
    for (const [name, v] of plain) {
      // the fusion's image input widens with the relational module's features
      if (name === 'fusion.x.w') continue;
      expect(withModules.get(name), name).toEqual(v);
    }
    // a different run seed draws different values
    const other = new VqaModel(tinyConfig({ train: { seed: 2 } }), tokenizer, answers);
    expect(Array.from(other.net.store.get('classifier.w').dataSync())).not.toEqual(plain.get('classifier.w'));
    other.dispose();
  });
});
