import { beforeAll, describe, expect, it } from 'vitest';
import { AnswerVocab } from '../src/data/answers.ts';
import { ImageTable } from '../src/data/images.ts';
import { loadDataset } from '../src/data/manifest.ts';
import { loadSplit } from '../src/data/split.ts';
import { batchArrays, inOrderBatches } from '../src/inputs/batches.ts';
import { degradeBatchImages } from '../src/inputs/degraded_images.ts';
import { openSplitInputs } from '../src/inputs/split_inputs.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { selectBackend } from '../src/backend/select.ts';
import { train } from '../src/train/train.ts';
import { maxAbsDiff, tempDir, tinyClevr, tinyConfig, useWasm } from './helpers.ts';
import path from 'node:path';

let dataDir: string;

beforeAll(async () => {
  await useWasm();
  dataDir = await tinyClevr('degrade-data', { train: 16, val: 4, seed: 3, questionsPerImage: 4 });
});

describe('train.degrade: training images degraded afresh each time a batch reads them', () => {
  it('changes most images at share 1 and none at 0, the same way for the same seed and epoch, another way in another epoch', async () => {
    const config = tinyConfig();
    const ds = loadDataset(dataDir);
    const samples = loadSplit(ds, 'train').samples;
    const model = new VqaModel(
      config,
      QuestionTokenizer.build(samples.map((s) => s.question)).files,
      AnswerVocab.build(
        samples.map((s) => s.annotation!),
        100,
      ),
    );
    const { split, images, questions } = await openSplitInputs(model, {}, ds, 'train', { skipBad: false });
    expect(images).toBeInstanceOf(ImageTable);
    const table = images as ImageTable;
    const batch = inOrderBatches(split.samples, 64)[0]!;
    const stored = batchArrays(batch, images, questions, model.answers);
    const read = (share: number, seed: number, epoch: number) => degradeBatchImages(batchArrays(batch, images, questions, model.answers), batch, table, share, seed, epoch);
    const per = table.pixelsPerImage;
    const changed = (a: Float32Array) =>
      Array.from({ length: stored.images }, (_, r) => maxAbsDiff(a.subarray(r * per, (r + 1) * per), stored.imageValues.subarray(r * per, (r + 1) * per)) > 0).filter(Boolean)
        .length;
    const once = await read(1, 1, 0);
    // each draw of the mix degrades with odds 0.35 / 0.15 / 0.35 / 0.3: about a quarter of the images draw nothing
    expect(changed(once.imageValues)).toBeGreaterThanOrEqual(stored.images / 2);
    expect(changed((await read(0, 1, 0)).imageValues)).toBe(0);
    expect(maxAbsDiff((await read(1, 1, 0)).imageValues, once.imageValues)).toBe(0);
    expect(maxAbsDiff((await read(1, 1, 1)).imageValues, once.imageValues)).toBeGreaterThan(0);
    // the questions, targets and image rows are the stored batch's
    expect([...once.imageIndex]).toEqual([...stored.imageIndex]);
    expect(maxAbsDiff(once.targets!, stored.targets!)).toBe(0);
    model.dispose();
  });

  it('trains with it, and refuses it for frozen image features, naming the field', async () => {
    const backend = await selectBackend('wasm');
    const { model, history } = await train({
      dataDir,
      outDir: path.join(tempDir('degrade-run'), 'run'),
      config: tinyConfig({ train: { epochs: 1, degrade: 0.5 } }),
      backend,
      resume: false,
      log: () => {},
    });
    expect(Number.isFinite(history[0]!.loss)).toBe(true);
    model.dispose();
    expect(() => tinyConfig({ model: { vision: { kind: 'pretrained', model: 'Xenova/resnet-50' } }, train: { degrade: 0.5 } })).toThrow(/train\.degrade changes the pixels/);
  });
});
