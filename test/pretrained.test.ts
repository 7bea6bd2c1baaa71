import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AutoTokenizer, env } from '@xenova/transformers';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { openFeatureStore } from '../src/data/feature_store.ts';
import { openTextStateStore } from '../src/data/text_state_store.ts';
import { loadDataset } from '../src/data/manifest.ts';
import { loadSplit } from '../src/data/split.ts';
import { InputPreparer } from '../src/infer/prepare.ts';
import { TfjsPredictor } from '../src/infer/predictor.ts';
import { answerBatch } from '../src/infer/answer.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { PretrainedTextModel } from '../src/language/pretrained_model.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { openSplitInputs } from '../src/inputs/split_inputs.ts';
import { loadPretrainedModels } from '../src/model/pretrained_encoders.ts';
import { predictAnswers } from '../src/eval/evaluate.ts';
import { train } from '../src/train/train.ts';
import { PretrainedImageModel, toRegions } from '../src/vision/pretrained_model.ts';
import { writeTinyBert, writeTinyDinov2, writeTinyResnet } from './fixtures/tiny_pretrained.ts';
import { writeTinyTfjsGraph, writeTinyTfjsLayers } from './fixtures/tiny_tfjs.ts';
import { TfjsBackbone } from '../src/vision/tfjs_backbone.ts';
import { maxAbsDiff, tempDir, tinyClevr, tinyConfig, useWasm } from './helpers.ts';

const quiet = () => {};
let root: string;
let dataDir: string;
const savedRoot = process.env.VQA_PRETRAINED_DIR;

beforeAll(async () => {
  await useWasm();
  root = tempDir('pretrained');
  writeTinyResnet(path.join(root, 'tiny', 'resnet'));
  writeTinyDinov2(path.join(root, 'tiny', 'dinov2'));
  writeTinyBert(path.join(root, 'tiny', 'bert'), ['is', 'there', 'a', 'how', 'many', 'what', 'color', 'shape', 'the', 'of', 'large', 'small', 'object', 'objects']);
  process.env.VQA_PRETRAINED_DIR = root;
  dataDir = await tinyClevr('pretrained-data', { train: 24, val: 6, seed: 11, questionsPerImage: 6 });
});

afterAll(() => {
  if (savedRoot === undefined) delete process.env.VQA_PRETRAINED_DIR;
  else process.env.VQA_PRETRAINED_DIR = savedRoot;
});

const resnet = { kind: 'pretrained', model: 'tiny/resnet', quantized: false } as const;
const dinov2 = { kind: 'pretrained', model: 'tiny/dinov2', quantized: false } as const;
const bert = { kind: 'pretrained', model: 'tiny/bert', quantized: false, maxTokens: 14 } as const;

describe('region features from a pretrained image model', () => {
  it('turns a [B, C, h, w] grid into h·w regions of C and drops a ViT class token', () => {
    // Two images, C = 2, 1×3 grid: value = 100·image + 10·channel + cell.
    const grid = Float32Array.from({ length: 12 }, (_, i) => 100 * Math.floor(i / 6) + 10 * Math.floor((i % 6) / 3) + (i % 3));
    const cells = toRegions(grid, [2, 2, 1, 3]);
    expect(cells.grid).toEqual([1, 3]);
    expect([...cells.rows[1]!]).toEqual([100, 110, 101, 111, 102, 112]);
    // One image, 1 + 4 tokens of width 2: the class token (row 0) is dropped, 4 patches make a 2×2 grid.
    const tokens = toRegions(
      Float32Array.from({ length: 10 }, (_, i) => i),
      [1, 5, 2],
    );
    expect(tokens.grid).toEqual([2, 2]);
    expect([...tokens.rows[0]!]).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('loads ResNet- and DINOv2-style folders offline and reports their grid and width', async () => {
    const r = await PretrainedImageModel.load(resnet);
    const d = await PretrainedImageModel.load(dinov2);
    expect(await r.probe()).toEqual({ grid: [8, 8], width: 12 });
    expect(await d.probe()).toEqual({ grid: [4, 4], width: 10 });
    expect(env.allowRemoteModels).toBe(false);
  });
});

describe('one tokenizer for both encoders', () => {
  it('writes the WordPiece vocabulary of the training questions as a tokenizer.json that @xenova/transformers loads back', async () => {
    const built = QuestionTokenizer.build(['Is there a large red cube?', 'How many red cubes are there?']);
    const dir = path.join(tempDir('tok'), 'ours');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(built.files.tokenizer));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(built.files.config));
    env.localModelPath = `${path.dirname(dir)}/`;
    const loaded = await AutoTokenizer.from_pretrained('ours');
    const question = 'Is there a red cubes, or a redder one?';
    const ours = built.encode(question, 20);
    expect(loaded.encode(question)).toEqual(ours.ids.slice(0, ours.tokens.length));
    // Unseen words are spelled in pieces of the vocabulary, not lost.
    expect(ours.tokens).toEqual(['is', 'there', 'a', 'red', 'cubes', 'o', '##r', 'a', 'red', '##d', '##e', '##r', 'o', '##n', '##e']);
    expect(ours.ids.slice(ours.tokens.length).every((id) => id === 0)).toBe(true);
  });

  it("reads a pretrained folder's own tokenizer, special tokens and mask included, and zeroes the padding states", async () => {
    const text = await PretrainedTextModel.load(bert);
    const [a, b] = await text.states(['How many objects?', 'What color is the large object?'], 10);
    expect(a!.tokens).toEqual(['[CLS]', 'how', 'many', 'objects', '?', '[SEP]']);
    expect(b!.tokens[0]).toBe('[CLS]');
    const width = await text.width();
    expect(width).toBe(12);
    const padding = a!.values.subarray(6 * width);
    expect(padding.every((v) => v === 0)).toBe(true);
    expect(a!.values.subarray(0, 6 * width).some((v) => v !== 0)).toBe(true);
  });
});

describe('sharded feature extraction', () => {
  it('three `vqa features extract --shard i/3` processes in parallel give the same store, byte for byte, as one extraction', async () => {
    const config = path.join(tempDir('shard-config'), 'config.json');
    fs.writeFileSync(config, JSON.stringify({ model: { ...tinyConfig().model, vision: resnet } }));
    const sharded = tempDir('shards');
    const bin = path.resolve('bin/vqa.js');
    const runs = [1, 2, 3].map(
      (i) =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn(process.execPath, [bin, 'features', 'extract', '--data', dataDir, '--config', config, '--shard', `${i}/3`], {
            env: { ...process.env, VQA_CACHE_DIR: sharded },
          });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d));
          child.stderr.on('data', (d: Buffer) => (out += d));
          child.on('exit', (code) => resolve({ code, out }));
        }),
    );
    for (const r of await Promise.all(runs)) expect(r.code, r.out).toBe(0);
    const parts = fs.readdirSync(sharded).filter((f) => f.endsWith('.bin'));
    expect(parts.map((f) => f.replace(/.*\.shard-/, '')).sort()).toEqual(['1-of-3.bin', '2-of-3.bin', '3-of-3.bin']);

    const image = await PretrainedImageModel.load(resnet);
    const split = loadSplit(loadDataset(dataDir), 'train');
    const { grid, width } = await image.probe();
    const o = { dtype: 'float16' as const, grid, width, skipBad: false };
    const joined = await openFeatureStore(split, image, { ...o, cacheDir: sharded });
    const whole = tempDir('one-extraction');
    const single = await openFeatureStore(split, image, { ...o, cacheDir: whole });
    expect([joined.from, single.from]).toEqual(['built', 'built']);
    const file = (dir: string) =>
      path.join(
        dir,
        fs.readdirSync(dir).find((f) => f.endsWith('-float16.bin'))!,
      );
    expect(fs.readFileSync(file(sharded)).equals(fs.readFileSync(file(whole)))).toBe(true);
    expect((await openFeatureStore(split, image, { ...o, cacheDir: sharded })).from).toBe('store');
  });
});

describe('packed text-state store', () => {
  it('computes each distinct question once into a float16 store, reuses it, and reads rows equal to the model within float16 (1e-3 relative)', async () => {
    const text = await PretrainedTextModel.load(bert);
    const width = await text.width();
    const cacheDir = tempDir('text-store');
    const questions = ['How many objects?', 'What color is the large object?', 'How many objects?'];
    let computed = 0;
    const o = { cacheDir, maxTokens: 10, width, onProgress: (done: number) => (computed = done) };
    const stored = await openTextStateStore('train', questions, text, o);
    expect(computed).toBe(2); // the repeated question once
    const files = fs.readdirSync(cacheDir).sort();
    expect(files).toEqual([expect.stringMatching(/^train-text-tiny_bert-[0-9a-f]{12}-10t\.bin$/), expect.stringMatching(/^train-text-tiny_bert-[0-9a-f]{12}-10t\.json$/)]);
    expect(fs.statSync(path.join(cacheDir, files[0]!)).size).toBe(2 * 10 * width * 2); // two rows of float16
    const [direct] = await text.states(['What color is the large object?'], 10);
    const got = stored.encode('What color is the large object?').values as Float32Array;
    const scale = Math.max(...Array.from(direct!.values, Math.abs));
    expect(maxAbsDiff(Array.from(got), Array.from(direct!.values))).toBeLessThan(1e-3 * scale);
    // the padding mask: as many real tokens as the model read (a store that lost the count masked every token)
    expect(stored.encode('What color is the large object?').tokens).toHaveLength(direct!.tokens.length);
    expect(direct!.tokens.length).toBeGreaterThan(3);
    const built = fs.statSync(path.join(cacheDir, files[0]!)).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    const again = await openTextStateStore('train', questions, text, { ...o, onProgress: () => {} });
    expect(fs.statSync(path.join(cacheDir, files[0]!)).mtimeMs).toBe(built); // read, not rebuilt
    expect(Array.from(again.encode('How many objects?').values)).toEqual(Array.from(stored.encode('How many objects?').values));
    expect(() => stored.encode('Never asked?')).toThrow('no pretrained token states for the question "Never asked?"');
  });
});

describe('packed feature store', () => {
  it('extracts once, reads back the same rows, resumes an interrupted extraction, and keeps float16 close to float32', async () => {
    const image = await PretrainedImageModel.load(resnet);
    const split = loadSplit(loadDataset(dataDir), 'train');
    const direct = await image.extract(await Promise.all(split.imageIds.slice(0, 3).map((id) => image.decode(split.imagePath(id)))));
    const cacheDir = tempDir('features');
    const o = { cacheDir, dtype: 'float32' as const, grid: [8, 8] as [number, number], width: 12, skipBad: false, chunk: 5 };
    const first = await openFeatureStore(split, image, o);
    const second = await openFeatureStore(split, image, o);
    expect([first.from, second.from]).toEqual(['built', 'store']);
    const row = new Float32Array(8 * 8 * 12);
    for (let i = 0; i < 3; i++) {
      second.table.write(split.imageIds[i]!, row, 0);
      expect(maxAbsDiff(row, direct.rows[i]!)).toBeLessThan(1e-6);
    }

    const other = tempDir('features-resume');
    await expect(
      openFeatureStore(split, image, {
        ...o,
        cacheDir: other,
        onProgress: (done) => {
          if (done === 10) throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    const seen: number[] = [];
    const resumed = await openFeatureStore(split, image, { ...o, cacheDir: other, onProgress: (done) => seen.push(done) });
    expect(seen[0]).toBe(10); // picked up after the two chunks already written
    const a = new Float32Array(row.length);
    for (const id of split.imageIds) {
      resumed.table.write(id, a, 0);
      second.table.write(id, row, 0);
      expect(maxAbsDiff(a, row)).toBe(0);
    }

    const half = await openFeatureStore(split, image, { ...o, dtype: 'float16' });
    expect(
      fs.statSync(
        path.join(
          cacheDir,
          fs.readdirSync(cacheDir).find((f) => f.includes('float16') && f.endsWith('.bin'))!,
        ),
      ).size,
    ).toBe(split.imageIds.length * row.length * 2);
    half.table.write(split.imageIds[0]!, a, 0);
    second.table.write(split.imageIds[0]!, row, 0);
    const largest = Math.max(...row.map(Math.abs));
    expect(maxAbsDiff(a, row)).toBeLessThanOrEqual(largest * 2 ** -11); // float16 keeps 11 significant bits
  });
});

describe('training with pretrained encoders', () => {
  it('trains with both frozen encoders, records their folders, and answers the same after reloading, from the store and on the fly', async () => {
    const out = path.join(tempDir('pre-train'), 'run');
    const backend = await selectBackend('wasm');
    const config = tinyConfig({ model: { vision: { ...resnet, storeDtype: 'float32' }, language: bert }, train: { epochs: 3, lr: 0.01 } });
    const { model, history } = await train({ dataDir, outDir: out, config, backend, resume: false, log: quiet });
    expect(history[2]!.loss).toBeLessThan(history[0]!.loss);
    expect(model.config.model.vision).toMatchObject({ width: 12, grid: [8, 8] });
    expect(model.config.model.language).toMatchObject({ width: 12 });
    const recorded = JSON.parse(fs.readFileSync(path.join(out, 'model', 'pretrained.json'), 'utf8'));
    expect(recorded.vision).toMatchObject({ model: 'tiny/resnet', file: 'onnx/model.onnx' });
    expect(recorded.language.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Only the projections are trained: no embedding or conv weights in the network.
    expect(
      model.net.store
        .entries()
        .map(([n]) => n)
        .filter((n) => n.startsWith('vision.') || n.startsWith('language.'))
        .sort(),
    ).toEqual(['language.project.b', 'language.project.w', 'vision.project.b', 'vision.project.w']);

    const { model: reloaded } = VqaModel.load(out);
    const pretrainedModels = await loadPretrainedModels(reloaded.config.model, reloaded.pretrained);
    const ds = loadDataset(dataDir);
    const val = await openSplitInputs(reloaded, pretrainedModels, ds, 'val', { skipBad: false });
    const before = await predictAnswers(model, val.split.samples, val, 8);
    const after = await predictAnswers(reloaded, val.split.samples, val, 8);
    expect(after).toEqual(before);

    // The server's path: features and token states computed on the fly for an uploaded image.
    const preparer = await InputPreparer.forModel(reloaded.config.model, reloaded.tokenizer, reloaded.pretrained);
    const sample = val.split.samples[0]!;
    const tensorsBefore = tf.memory().numTensors;
    const [answer] = await answerBatch(new TfjsPredictor(reloaded), preparer, [
      { image: fs.readFileSync(val.split.imagePath(sample.imageId)), question: sample.question, topK: 3 },
    ]);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(answer!.answers[0]!.answer).toBe(before.get(sample.questionId));
    expect(answer!.attention.image.grid).toEqual([8, 8]);
    expect(answer!.attention.question[0]!.token).toBe('[CLS]');
    model.dispose();
    reloaded.dispose();
  });

  it('trains every combination of (cnn | pretrained) × (transformer | pretrained)', async () => {
    const backend = await selectBackend('wasm');
    for (const vision of [undefined, dinov2]) {
      for (const language of [undefined, bert]) {
        const overrides = { ...(vision ? { vision } : {}), ...(language ? { language } : {}) };
        const out = path.join(tempDir('combo'), 'run');
        // The last combination also runs data-parallel: workers get the pretrained features as plain arrays.
        const workers = vision && language ? 2 : 1;
        const { model, history } = await train({
          dataDir,
          outDir: out,
          config: tinyConfig({ model: overrides, train: { epochs: 1, maxStepsPerEpoch: 2, workers } }),
          backend,
          resume: false,
          log: quiet,
        });
        expect(Number.isFinite(history[0]!.loss), JSON.stringify(overrides)).toBe(true);
        expect(fs.existsSync(path.join(out, 'model', 'pretrained.json'))).toBe(Boolean(vision || language));
        model.dispose();
      }
    }
  });
});

describe('checking model folders', () => {
  it('names a missing folder and how to get it, and refuses a folder that differs from the one trained with', async () => {
    const config = tinyConfig({ model: { vision: { kind: 'pretrained', model: 'Xenova/resnet-50' } } });
    await expect(loadPretrainedModels(config.model)).rejects.toThrow(
      new RegExp(
        `vision model 'Xenova/resnet-50' not found at ${path.join(root, 'Xenova', 'resnet-50').replace(/[/\\]/g, '.')}: set VQA_PRETRAINED_DIR .* git clone https://huggingface.co/Xenova/resnet-50`,
      ),
    );
    const partial = path.join(root, 'tiny', 'no-processor');
    writeTinyResnet(partial);
    fs.rmSync(path.join(partial, 'preprocessor_config.json'));
    await expect(PretrainedImageModel.load({ model: 'tiny/no-processor', quantized: false })).rejects.toThrow(/lacks preprocessor_config\.json/);
    await expect(PretrainedImageModel.load({ model: 'tiny/resnet', quantized: true })).rejects.toThrow(/lacks onnx\/model_quantized\.onnx/);

    const out = path.join(tempDir('pre-mismatch'), 'run');
    const backend = await selectBackend('wasm');
    const copy = path.join(root, 'tiny', 'resnet-copy');
    writeTinyResnet(copy);
    const { model } = await train({
      dataDir,
      outDir: out,
      config: tinyConfig({ model: { vision: { kind: 'pretrained', model: 'tiny/resnet-copy' } }, train: { maxStepsPerEpoch: 1 } }),
      backend,
      resume: false,
      log: quiet,
    });
    model.dispose();
    writeTinyResnet(copy, 12, 99); // same layout, other weights
    const { model: loaded } = VqaModel.load(out);
    await expect(loadPretrainedModels(loaded.config.model, loaded.pretrained)).rejects.toThrow(
      /vision model folder .*resnet-copy is not the one this model was trained with .* point VQA_PRETRAINED_DIR at the copy of 'tiny\/resnet-copy'/,
    );
    loaded.dispose();
  });
});

describe('tfjs model folders as backbones', () => {
  it('cuts a layers model at a named layer (default: its last 4-D one); the regions are that layer of the saved weights', async () => {
    const dir = path.join(root, 'tiny', 'tfjs-layers');
    const saved = await writeTinyTfjsLayers(dir);
    const spec = { model: 'tiny/tfjs-layers', inputRange: [0, 1] as [number, number] };
    const last = await TfjsBackbone.load(dir, spec);
    expect(await last.probe()).toEqual({ grid: [4, 4], width: 6 });
    const cut = await TfjsBackbone.load(dir, { ...spec, layer: 'conv_a' });
    expect(await cut.probe()).toEqual({ grid: [8, 8], width: 4 });
    expect(cut.record.sha256).not.toBe(last.record.sha256); // a store of one cut is never read for another
    expect(cut.record.file).toBe('model.json#conv_a');

    const image = tinyImage();
    const x = await cut.decode(await image);
    expect(x.length).toBe(16 * 16 * 3);
    const got = (await cut.extract([x])).rows[0]!;
    const held = tf.memory().numTensors;
    await cut.extract([x, x]);
    expect(tf.memory().numTensors).toBe(held); // nothing left behind by a forward pass
    // conv_a by its formula on the saved kernel and bias: relu(conv2d(x, k, stride 2, same) + b), region-major [8·8, 4]
    const [k, b] = saved.getLayer('conv_a').getWeights();
    const want = tf.tidy(() => tf.relu(tf.add(tf.conv2d(tf.tensor4d(x, [1, 16, 16, 3]), k as tf.Tensor4D, 2, 'same'), b!)).dataSync());
    expect(maxAbsDiff(Array.from(got), Array.from(want))).toBeLessThan(1e-5);
    saved.dispose();

    const range = await TfjsBackbone.load(dir, { ...spec, inputRange: [-1, 1] });
    const white = await range.decode(
      await sharp({ create: { width: 20, height: 12, channels: 3, background: '#ffffff' } })
        .png()
        .toBuffer(),
    );
    expect(new Set(white)).toEqual(new Set([1])); // any size is resized to 16×16; white is the range's top
    await expect(TfjsBackbone.load(dir, { ...spec, layer: 'conv_c' })).rejects.toThrow(`${dir}: the layers model has no layer 'conv_c' (its last 4-D layers: conv_a, conv_b)`);
    await expect(TfjsBackbone.load(dir, { ...spec, layer: 'head' })).rejects.toThrow("layer 'head' gives [,3]; regions need a 4-D [B, h, w, C] output");
  });

  it('runs a graph model to a named node: Conv2D then Relu by the formula', async () => {
    const dir = path.join(root, 'tiny', 'tfjs-graph');
    const kernel = writeTinyTfjsGraph(dir);
    const spec = { model: 'tiny/tfjs-graph', inputRange: [0, 1] as [number, number] };
    await expect(TfjsBackbone.load(dir, spec)).rejects.toThrow('a graph model needs model.vision.layer');
    const graph = await TfjsBackbone.load(dir, { ...spec, layer: 'features' });
    expect(await graph.probe()).toEqual({ grid: [8, 8], width: 5 });
    const x = await graph.decode(await tinyImage());
    const got = (await graph.extract([x, x])).rows;
    const want = tf.tidy(() => tf.relu(tf.conv2d(tf.tensor4d(x, [1, 16, 16, 3]), tf.tensor4d(kernel, [3, 3, 3, 5]), 2, 'same')).dataSync());
    expect(maxAbsDiff(Array.from(got[1]!), Array.from(want))).toBeLessThan(1e-5);
  });

  it('trains the VQA network on a tfjs backbone through the feature store, and answers the same on the fly', async () => {
    const dir = path.join(root, 'tiny', 'tfjs-layers');
    if (!fs.existsSync(dir)) (await writeTinyTfjsLayers(dir)).dispose();
    const out = path.join(tempDir('tfjs-train'), 'run');
    const backend = await selectBackend('wasm');
    const vision = { kind: 'pretrained', model: 'tiny/tfjs-layers', layer: 'conv_a', storeDtype: 'float32' } as const;
    const { model } = await train({
      dataDir,
      outDir: out,
      config: tinyConfig({ model: { vision }, train: { epochs: 1, maxStepsPerEpoch: 3 } }),
      backend,
      resume: false,
      log: quiet,
    });
    expect(model.config.model.vision).toMatchObject({ width: 4, grid: [8, 8] });
    expect(JSON.parse(fs.readFileSync(path.join(out, 'model', 'pretrained.json'), 'utf8')).vision).toMatchObject({ model: 'tiny/tfjs-layers', file: 'model.json#conv_a' });
    const ds = loadDataset(dataDir);
    const pretrainedModels = await loadPretrainedModels(model.config.model, model.pretrained);
    const val = await openSplitInputs(model, pretrainedModels, ds, 'val', { skipBad: false });
    const stored = await predictAnswers(model, val.split.samples, val, 8);
    const preparer = await InputPreparer.forModel(model.config.model, model.tokenizer, model.pretrained);
    const sample = val.split.samples[0]!;
    const [answer] = await answerBatch(new TfjsPredictor(model), preparer, [{ image: fs.readFileSync(val.split.imagePath(sample.imageId)), question: sample.question, topK: 1 }]);
    expect(answer!.answers[0]!.answer).toBe(stored.get(sample.questionId));
    model.dispose();
  });
});

describe('a real tfjs backbone', () => {
  it("writes nsfwjs's MobileNetV2 (a devDependency) as a tfjs folder and reads 7×7×1280 regions from its out_relu layer", async () => {
    const dir = path.join(tempDir('mobilenet'), 'mobilenet-v2');
    const script = path.join(import.meta.dirname, '..', 'scripts', 'mobilenet-from-nsfwjs.mjs');
    const run = spawnSync(process.execPath, [script, dir], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/model\.json and 1 shard\(s\), 2\.5 MiB of weights \(266 tensors\)/);
    const backbone = await TfjsBackbone.load(dir, { model: dir, layer: 'out_relu', inputRange: [0, 1] });
    expect(await backbone.probe()).toEqual({ grid: [7, 7], width: 1280 });
    // A trained net, not zeros: two different images give different regions, each with active units.
    const [a, b] = (
      await backbone.extract([
        await backbone.decode(await tinyImage()),
        await backbone.decode(path.join(dataDir, 'val', 'images', fs.readdirSync(path.join(dataDir, 'val', 'images'))[0]!)),
      ])
    ).rows;
    expect(a!.some((v) => v > 0)).toBe(true);
    expect(maxAbsDiff(Array.from(a!), Array.from(b!))).toBeGreaterThan(0.1);
  });
});

/** A 16×16 PNG with a coloured square on grey. */
function tinyImage(): Promise<Buffer> {
  const pixels = Buffer.alloc(16 * 16 * 3, 128);
  for (let y = 4; y < 11; y++) for (let x = 3; x < 9; x++) pixels.set([200, 30, 60], (y * 16 + x) * 3);
  return sharp(pixels, { raw: { width: 16, height: 16, channels: 3 } })
    .png()
    .toBuffer();
}
