import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { loadDataset } from '../src/data/manifest.ts';
import { TfjsPredictor } from '../src/infer/predictor.ts';
import { answerBatch } from '../src/infer/answer.ts';
import { writeFolderAtomically } from '../src/model/checkpoint.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { Adam, learningRate } from '../src/train/adam.ts';
import { buildBatch, disposeBatch, inOrderBatches } from '../src/inputs/batches.ts';
import { runEpoch } from '../src/train/epoch.ts';
import { trainStep } from '../src/train/step.ts';
import { train } from '../src/train/train.ts';
import { loadSplit } from '../src/data/split.ts';
import { openSplitInputs } from '../src/inputs/split_inputs.ts';
import { InputPreparer } from '../src/infer/prepare.ts';
import { tempDir, tinyConfig, useWasm, tinyClevr, trainVocabularies } from './helpers.ts';

let dataDir: string;
const quiet = () => {};

beforeAll(async () => {
  await useWasm();
  dataDir = await tinyClevr('train-data', { train: 40, val: 10, seed: 3, questionsPerImage: 6 });
});

describe('training', () => {
  it('lowers the loss, writes a checkpoint that reloads to the same answers, and resumes', async () => {
    const out = path.join(tempDir('run'), 'run');
    const backend = await selectBackend('wasm');
    const config = tinyConfig({ train: { epochs: 4 } });
    const { model, history } = await train({ dataDir, outDir: out, config, backend, resume: false, log: quiet });
    expect(history).toHaveLength(4);
    expect(history[3]!.loss).toBeLessThan(history[0]!.loss * 0.9);
    expect(history[3]!.val!.count).toBeGreaterThan(0);
    for (const f of ['metrics.jsonl', 'report.html', 'model/weights.bin', 'checkpoint/optimizer.bin']) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    expect(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(4);

    // The saved model answers exactly as the one in memory.
    const { model: reloaded, card } = VqaModel.load(out);
    expect(card.epochs).toBe(4);
    const val = await openSplitInputs(model, {}, loadDataset(dataDir), 'val', { skipBad: false });
    const batch = buildBatch(val.split.samples.slice(0, 8), val.images, val.questions);
    const a = await model.predict(batch.inputs, 3);
    const b = await reloaded.predict(batch.inputs, 3);
    disposeBatch(batch);
    expect(b.map((p) => p.answers.map((x) => x.answer))).toEqual(a.map((p) => p.answers.map((x) => x.answer)));
    for (let i = 0; i < a.length; i++) expect(b[i]!.answers[0]!.score).toBeCloseTo(a[i]!.answers[0]!.score, 5);
    model.dispose();
    reloaded.dispose();

    // Without --resume an existing run is refused; with it, training continues after the last epoch.
    await expect(train({ dataDir, outDir: out, config, backend, resume: false, log: quiet })).rejects.toThrow(/already holds a training run/);
    const more = tinyConfig({ train: { epochs: 5 } });
    const resumed = await train({ dataDir, outDir: out, config: more, backend, resume: true, log: quiet });
    expect(resumed.history.map((m) => m.epoch)).toEqual([0, 1, 2, 3, 4]);
    expect(resumed.history[4]!.loss).toBeLessThan(history[0]!.loss);
    resumed.model.dispose();
  });

  it('refuses a checkpoint whose weights do not fit its config, naming the parameter, or whose weights file is truncated', async () => {
    const out = path.join(tempDir('bad'), 'run');
    const backend = await selectBackend('wasm');
    const { model } = await train({ dataDir, outDir: out, config: tinyConfig({ train: { epochs: 1, maxStepsPerEpoch: 1 } }), backend, resume: false, log: quiet });
    model.dispose();
    fs.rmSync(path.join(out, 'model', 'checksums.json')); // edited by hand below: a folder without checksums is read as it is
    const cfgFile = path.join(out, 'model', 'config.json');
    const original = fs.readFileSync(cfgFile, 'utf8');
    const cfg = JSON.parse(original);
    cfg.model.fusion.o = 40;
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    expect(() => VqaModel.load(out)).toThrow(/parameter 'fusion\.x\.w' has shape \[32,64\] but the model expects \[32,80\]/);
    cfg.model.d = 'wide';
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    expect(() => VqaModel.load(out)).toThrow(/config\.json: invalid config[\s\S]*model\.d/);
    fs.writeFileSync(cfgFile, original);
    const binFile = path.join(out, 'model', 'weights.bin');
    fs.truncateSync(binFile, 1000);
    expect(() => VqaModel.load(out)).toThrow(`${binFile}: 1000 bytes, but weights.json describes`);
  });
});

describe('a curriculum', () => {
  it('trains its first epochs on the listed question types only (at its own rate), then on every question, with one answer vocabulary', async () => {
    const out = path.join(tempDir('curriculum'), 'run');
    const backend = await selectBackend('wasm');
    const all = loadSplit(loadDataset(dataDir), 'train').samples;
    const exist = all.filter((s) => s.annotation!.question_type === 'exist').length;
    expect(exist).toBeGreaterThan(0);
    expect(exist).toBeLessThan(all.length);
    const config = tinyConfig({ train: { epochs: 2, lr: 2e-3, warmupEpochs: 0, curriculum: { epochs: 1, questionTypes: ['exist'], lr: 1e-4 } } });
    const { model, history } = await train({ dataDir, outDir: out, config, backend, resume: false, log: quiet });
    const seen = history.map((m) => Math.round(m.samplesPerSecond * m.seconds));
    expect(seen).toEqual([exist, all.length]);
    expect(history.map((m) => m.lr)).toEqual([1e-4, 2e-3]);
    expect(model.answers.size).toBeGreaterThan(2); // not only yes/no: built from every question
    model.dispose();
    const wrong = tinyConfig({ train: { epochs: 1, curriculum: { epochs: 1, questionTypes: ['no such type'] } } });
    await expect(train({ dataDir, outDir: path.join(tempDir('curriculum'), 'run'), config: wrong, backend, resume: false, log: quiet })).rejects.toThrow(
      /train\.curriculum\.questionTypes: no training question is of type no such type/,
    );
  });

  it('scales the rate of the parameters under a name prefix (the longest prefix that matches) unless told not to, and refuses a prefix no parameter has', () => {
    const params = new Map(['vision.a', 'vision.b.c', 'head'].map((n) => [n, tf.variable(tf.zeros([2]))]));
    const adam = new Adam(params, { betas: [0.9, 0.99], eps: 1e-9, clipNorm: 1e9, rateScale: { 'vision.': 0.5, 'vision.b': 0.25 } });
    const grads = Object.fromEntries([...params.keys()].map((n) => [n, tf.ones([2])]));
    adam.apply(grads, 1e-2).dispose();
    // Adam's first step moves each parameter by lr · scale (m̂ / √v̂ = 1)
    expect([...params.values()].map((v) => v.dataSync()[0]!)).toEqual([-5e-3, -2.5e-3, -1e-2].map((x) => expect.closeTo(x, 8)));
    adam.apply(grads, 1e-2, false).dispose(); // as during the curriculum: every parameter at lr
    expect([...params.values()].map((v) => v.dataSync()[0]!)).toEqual([-1.5e-2, -1.25e-2, -2e-2].map((x) => expect.closeTo(x, 8)));
    expect(() => new Adam(params, { betas: [0.9, 0.99], eps: 1e-9, clipNorm: 1, rateScale: { language: 2 } })).toThrow(/no trained parameter's name starts with 'language'/);
    adam.dispose();
    tf.dispose([...Object.values(grads), ...params.values()]);
  });

  it("schedules the rate: the curriculum's own while it lasts, else warm-up then a decay at each listed epoch", () => {
    const plain = tinyConfig({ train: { lr: 1e-3, warmupEpochs: 1, decayEpochs: [3], decayFactor: 0.5 } }).train;
    expect([0, 1, 2, 3].map((e) => learningRate(plain, e))).toEqual([5e-4, 1e-3, 1e-3, 5e-4]);
    const staged = { ...plain, curriculum: { epochs: 2, questionTypes: ['exist'], lr: 2e-4 } };
    expect([0, 1, 2, 3].map((e) => learningRate(staged, e))).toEqual([2e-4, 2e-4, 1e-3, 5e-4]);
  });
});

describe("a kill at any point of an epoch's save", () => {
  // writeFolderAtomically's steps: fill RUN/x.tmp, rename x → x.old, rename x.tmp → x, remove
  // x.old; metrics.jsonl is appended first, then checkpoint is renamed checkpoint.previous and the
  // new one written, and RUN/model written after RUN/checkpoint. Each case
  // is the disk as a SIGKILL at one instant leaves it; every later --resume must finish the run
  // with one metrics line per epoch and a model folder equal to the checkpoint.
  const kills: [string, (run: string) => void][] = [
    ['after checkpoint became checkpoint.previous', (run) => moveToPrevious(run)],
    [
      'while filling checkpoint.tmp',
      (run) => {
        moveToPrevious(run);
        partialTmp(path.join(run, 'checkpoint'));
      },
    ],
    [
      'with checkpoint.tmp complete, before its rename',
      (run) => {
        fs.cpSync(path.join(run, 'checkpoint'), path.join(run, 'checkpoint.tmp'), { recursive: true });
        moveToPrevious(run);
      },
    ],
    ['between the renames of model', (run) => fs.renameSync(path.join(run, 'model'), path.join(run, 'model.old'))],
    ['after the checkpoint, before the model folder', (run) => fs.rmSync(path.join(run, 'model'), { recursive: true })],
    ['while removing model.old', (run) => fs.cpSync(path.join(run, 'model'), path.join(run, 'model.old'), { recursive: true })],
    [
      'after metrics.jsonl, before the checkpoint',
      (run) =>
        fs.appendFileSync(path.join(run, 'metrics.jsonl'), fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n')[0]!.replace('"epoch":1', '"epoch":3') + '\n'),
    ],
    ['while appending to metrics.jsonl', (run) => fs.appendFileSync(path.join(run, 'metrics.jsonl'), '{"epoch":2,"lo')],
  ];
  function moveToPrevious(run: string): void {
    fs.rmSync(path.join(run, 'checkpoint.previous'), { recursive: true });
    fs.renameSync(path.join(run, 'checkpoint'), path.join(run, 'checkpoint.previous'));
  }
  function partialTmp(dir: string): void {
    fs.mkdirSync(`${dir}.tmp`);
    fs.writeFileSync(path.join(`${dir}.tmp`, 'weights.bin'), 'partial');
  }

  it.each(kills)('%s: --resume recovers and finishes the run', async (_name, kill) => {
    const run = path.join(tempDir('kill'), 'run');
    const backend = await selectBackend('wasm');
    const config = (epochs: number) => tinyConfig({ train: { epochs, maxStepsPerEpoch: 2 } });
    (await train({ dataDir, outDir: run, config: config(2), backend, resume: false, log: quiet })).model.dispose();
    kill(run);
    for (const epochs of [3, 4]) {
      const { model, history } = await train({ dataDir, outDir: run, config: config(epochs), backend, resume: true, log: quiet });
      model.dispose();
      expect(history.map((m) => m.epoch)).toEqual([...Array(epochs).keys()]);
    }
    const lines = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).epoch)).toEqual([1, 2, 3, 4]); // counted from 1, as the console counts
    expect(fs.readdirSync(run).sort()).toEqual(['checkpoint', 'checkpoint.previous', 'metrics.jsonl', 'model', 'report.html']);
    expect(fs.readFileSync(path.join(run, 'model', 'weights.bin')).equals(fs.readFileSync(path.join(run, 'checkpoint', 'weights.bin')))).toBe(true);
  });

  it('a full disk names the path, removes the partial folder and keeps the last checkpoint', async () => {
    const dir = path.join(tempDir('full'), 'checkpoint');
    writeFolderAtomically(dir, { 'a.txt': 'good' });
    // A file where the temporary folder's file must go fails the write as ENOSPC would, midway.
    expect(() => writeFolderAtomically(dir, { 'a.txt': 'new', 'b/c.txt': 'x' })).toThrow(`${dir}.tmp: could not write (`);
    expect(fs.existsSync(`${dir}.tmp`)).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('good');
  });
});

describe('integrity', () => {
  const backend = () => selectBackend('wasm');
  const config = (epochs: number) => tinyConfig({ train: { epochs, maxStepsPerEpoch: 1 } });
  /** 64 random bytes over the middle of a file, as a bad disk or copy would leave it */
  function corrupt(file: string): void {
    const bytes = fs.readFileSync(file);
    bytes.set(
      Array.from({ length: 64 }, (_, i) => (bytes[(bytes.length >> 1) + i]! + 1 + i) & 255),
      bytes.length >> 1,
    );
    fs.writeFileSync(file, bytes);
  }

  it('a model folder carries checksums: a changed weights file, or one holding NaN without them, is refused naming the file', async () => {
    const run = path.join(tempDir('sum'), 'run');
    (await train({ dataDir, outDir: run, config: config(1), backend: await backend(), resume: false, log: quiet })).model.dispose();
    const sums = JSON.parse(fs.readFileSync(path.join(run, 'model', 'checksums.json'), 'utf8'));
    expect(Object.keys(sums.files)).toEqual(expect.arrayContaining(['weights.bin', 'weights.json', 'config.json', 'answers.json', 'model-card.json']));
    const bin = path.join(run, 'model', 'weights.bin');
    const clean = fs.readFileSync(bin);
    corrupt(bin);
    expect(() => VqaModel.load(run)).toThrow(`${bin}: corrupt (its sha256 is `);
    // a folder from before checksums: a NaN every 4 KB is still caught, by the weights' values
    const nan = Buffer.from(clean);
    for (let at = 1024; at + 4 <= nan.length; at += 4096) nan.writeFloatLE(Number.NaN, at - (at % 4));
    fs.writeFileSync(bin, nan);
    fs.rmSync(path.join(run, 'model', 'checksums.json'));
    expect(() => VqaModel.load(run)).toThrow(new RegExp(`${bin.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: tensor '.+' holds values that are not finite`));
    fs.writeFileSync(bin, clean);
    VqaModel.load(run).model.dispose();
  });

  it('--resume sets a corrupt newest checkpoint aside and resumes from the previous one; with both corrupt it names both', async () => {
    const run = path.join(tempDir('fallback'), 'run');
    (await train({ dataDir, outDir: run, config: config(2), backend: await backend(), resume: false, log: quiet })).model.dispose();
    corrupt(path.join(run, 'checkpoint', 'optimizer.bin'));
    const lines: string[] = [];
    const { model, history } = await train({ dataDir, outDir: run, config: config(3), backend: await backend(), resume: true, log: (l) => lines.push(l) });
    model.dispose();
    expect(lines[0]).toMatch(/^warning: .*checkpoint\/optimizer\.bin: corrupt .*resuming from the previous checkpoint instead/);
    expect(lines).toContain(`resuming ${run} after epoch 1`);
    expect(history.map((m) => m.epoch)).toEqual([0, 1, 2]);
    expect(fs.existsSync(path.join(run, 'checkpoint.corrupt', 'optimizer.bin'))).toBe(true);

    corrupt(path.join(run, 'checkpoint', 'weights.bin'));
    corrupt(path.join(run, 'checkpoint.previous', 'weights.bin'));
    await expect(train({ dataDir, outDir: run, config: config(4), backend: await backend(), resume: true, log: quiet })).rejects.toThrow(
      /no sound checkpoint to resume from: .*checkpoint\/weights\.bin: corrupt.*checkpoint\.previous\/weights\.bin: corrupt/,
    );
  });

  it('a bad line inside metrics.jsonl stops --resume naming the file and line', async () => {
    const run = path.join(tempDir('metrics'), 'run');
    (await train({ dataDir, outDir: run, config: config(2), backend: await backend(), resume: false, log: quiet })).model.dispose();
    const file = path.join(run, 'metrics.jsonl');
    const [first, second] = fs.readFileSync(file, 'utf8').trim().split('\n');
    fs.writeFileSync(file, `${first}\n{"epoch":1,"lo\n${second}\n`);
    await expect(train({ dataDir, outDir: run, config: config(3), backend: await backend(), resume: true, log: quiet })).rejects.toThrow(`${file}:2: not valid JSON (`);
  });

  it('metrics.jsonl counts epochs from 1; a run written when it counted from 0 resumes the same', async () => {
    const run = path.join(tempDir('count'), 'run');
    (await train({ dataDir, outDir: run, config: config(2), backend: await backend(), resume: false, log: quiet })).model.dispose();
    const file = path.join(run, 'metrics.jsonl');
    const epochs = () =>
      fs
        .readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).epoch as number);
    expect(epochs()).toEqual([1, 2]);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"epoch":1', '"epoch":0').replace('"epoch":2', '"epoch":1')); // as an older run wrote it
    const { model, history } = await train({ dataDir, outDir: run, config: config(3), backend: await backend(), resume: true, log: quiet });
    model.dispose();
    expect(history.map((m) => m.epoch)).toEqual([0, 1, 2]);
    expect(epochs()).toEqual([1, 2, 3]);
  });

  it('eval and serve put back a model folder a kill left only as model.old', async () => {
    const run = path.join(tempDir('old'), 'run');
    (await train({ dataDir, outDir: run, config: config(1), backend: await backend(), resume: false, log: quiet })).model.dispose();
    fs.renameSync(path.join(run, 'model'), path.join(run, 'model.old'));
    for (const dir of [run, path.join(run, 'model')]) {
      VqaModel.load(dir).model.dispose();
      expect(fs.existsSync(path.join(run, 'model', 'weights.bin'))).toBe(true);
      expect(fs.existsSync(path.join(run, 'model.old'))).toBe(false);
      fs.renameSync(path.join(run, 'model'), path.join(run, 'model.old'));
    }
  });

  it('a loss that is not finite names the tensors that are not', async () => {
    const state = async () => ({
      weights: [
        ['vision.conv0.w', new Float32Array([1, Number.NaN])],
        ['fusion.x.w', new Float32Array([1, 2])],
      ] as [string, ArrayLike<number>][],
      optimizer: [['m/vision.conv0.w', new Float32Array([Number.POSITIVE_INFINITY, 0])]] as [string, ArrayLike<number>][],
    });
    await expect(runEpoch([[1, 2]], 0.001, async () => ({ loss: Number.NaN, scores: [0, 0] }), 'epoch 7/7', 'q', state)).rejects.toThrow(
      'loss became NaN in epoch 7/7 at 2 q: weights not finite: vision.conv0.w; optimizer state not finite: all 1; the last checkpoint is kept',
    );
    const finite = async () => ({ weights: [['a', [1]]] as [string, ArrayLike<number>][], optimizer: [] });
    await expect(runEpoch([[1]], 0.001, async () => ({ loss: Number.POSITIVE_INFINITY, scores: [0] }), 'epoch 1/1', 'q', finite)).rejects.toThrow(
      /every weight and optimizer value is still finite/,
    );
  });
});

describe('memory', () => {
  it('keeps the tensor count flat across 200 training steps and 200 answered questions (relational module included); the optimizer holds its moments only', async () => {
    // the generated questions are worded at random and some are longer than the tiny model's default
    const config = tinyConfig({ model: { language: { maxTokens: 40, layers: 1, heads: 2 }, modules: [{ kind: 'relational', hidden: 8, width: 4 }] } });
    const ds = loadDataset(dataDir);
    const { tokenizer, answers } = trainVocabularies(dataDir, 100);
    const model = new VqaModel(config, tokenizer, answers);
    const { split, images, questions: rows } = await openSplitInputs(model, {}, ds, 'train', { skipBad: false });
    const beforeOptimizer = tf.memory().numTensors;
    const adam = new Adam(model.net.store.trainable(), { betas: [0.9, 0.99], eps: 1e-9, clipNorm: 10 });
    expect(tf.memory().numTensors - beforeOptimizer).toBe(2 * model.net.store.trainable().size); // its two moments, nothing else
    const batches = inOrderBatches(split.samples, 16);
    const counts: number[] = [];
    for (let step = 0; step < 200; step++) {
      const batch = buildBatch(batches[step % batches.length]!, images, rows, model.answers);
      await trainStep(model, adam, batch, 1e-3, true);
      disposeBatch(batch);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);

    const png = fs.readFileSync(split.imagePath(split.imageIds[0]!));
    const answered: number[] = [];
    for (let i = 0; i < 200; i++) {
      const [res] = await answerBatch(new TfjsPredictor(model), new InputPreparer(config.model, model.tokenizer, {}), [
        { image: png, question: split.samples[i % split.samples.length]!.question, topK: 3 },
      ]);
      expect(res!.answers).toHaveLength(3);
      answered.push(tf.memory().numTensors);
    }
    expect(new Set(answered).size).toBe(1);
    expect(answered[0]).toBe(counts[0]);
    model.dispose();
    adam.dispose();
  });
});
