import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import type { ModelCard } from '../src/model/checkpoint.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { maxAbsDiff, tempDir, tinyConfig, useWasm } from './helpers.ts';

beforeAll(useWasm);

describe('parameter names', () => {
  it('do not depend on the fusion in the attention, and a checkpoint with the old MFB names loads to the same outputs', async () => {
    const tokenizer = QuestionTokenizer.build(['what color is the circle']).files;
    const answers = new AnswerVocab(['red', 'blue']);
    const names = (fusion: string) => {
      const m = new VqaModel(tinyConfig({ model: { imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 1, hops: 2, fusion } } }), tokenizer, answers);
      const n = m.net.store
        .entries()
        .map(([k]) => k)
        .filter((k) => k.startsWith('iatt') && !k.includes('hidden') && !k.includes('out'));
      m.dispose();
      return n;
    };
    expect(names('mfb')).toEqual([
      'iatt.fusion.x.w',
      'iatt.fusion.x.b',
      'iatt.fusion.y.w',
      'iatt.fusion.y.b',
      'iatt2.fusion.x.w',
      'iatt2.fusion.x.b',
      'iatt2.fusion.y.w',
      'iatt2.fusion.y.b',
    ]);
    expect(names('lowrank').every((n) => /^iatt2?\.fusion\./.test(n))).toBe(true);

    const model = new VqaModel(tinyConfig({ model: { imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 1, hops: 2 } } }), tokenizer, answers);
    const dir = path.join(tempDir('names'), 'model');
    await model.save(dir, { name: 'names', epochs: 1 } as ModelCard);
    const specsFile = path.join(dir, 'weights.json');
    fs.writeFileSync(specsFile, fs.readFileSync(specsFile, 'utf8').replace(/"(iatt2?)\.fusion\./g, '"$1.mfb.'));
    expect(fs.readFileSync(specsFile, 'utf8')).toContain('"iatt2.mfb.x.w"');
    const { model: loaded } = VqaModel.load(dir);
    const { imageSize: s, language } = model.config.model;
    const t = language.kind === 'transformer' ? language.maxTokens : 0;
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
    const [a, b] = [model.net.forward(inputs, false), loaded.net.forward(inputs, false)];
    expect(maxAbsDiff(a.logits.dataSync(), b.logits.dataSync())).toBe(0);
    tf.dispose([a.logits, a.questionAttention, a.imageAttention, b.logits, b.questionAttention, b.imageAttention, ...Object.values(inputs)]);
    model.dispose();
    loaded.dispose();
  });
});
