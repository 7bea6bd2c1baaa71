import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { parseClassifierConfig } from '../src/classify/config.ts';
import { bilinearPool, BilinearHead, LowRankHead } from '../src/classify/heads.ts';
import { ClassifierNet } from '../src/classify/net.ts';
import request from 'supertest';
import sharp from 'sharp';
import { evalClassifier, loadClassifier, openClassifier, outOfMemoryHint, trainClassifier } from '../src/classify/train.ts';
import { writeTinyTfjsLayers } from './fixtures/tiny_tfjs.ts';
import { startServer } from '../src/server/serve.ts';
import { modelLoaderFor } from '../src/cli/served_models.ts';
import { decodeImage, normalizePixels } from '../src/data/images.ts';
import { writeFineGrained } from '../src/data/synth/fine_grained.ts';
import { ParamStore } from '../src/nn/params.ts';
import { inference, training } from '../src/nn/eager_ops.ts';
import { l2Normalize } from '../src/nn/functions.ts';
import { maxAbsDiff, tempDir, useWasm } from './helpers.ts';

const arr = (t: tf.Tensor) => Array.from(t.dataSync());

beforeAll(useWasm);

describe('bilinear pooling heads', () => {
  it('pools (1/N) Σ f fᵀ over locations', () => {
    const f = tf.tensor3d([
      [
        [1, 2],
        [3, -1],
      ],
    ]); // one image, N = 2 locations, C = 2
    // (1/2)([[1,2],[2,4]] + [[9,-3],[-3,1]]) = [[5,-0.5],[-0.5,2.5]]
    expect(arr(bilinearPool(inference, f, 2))).toEqual([5, -0.5, -0.5, 2.5]);
  });

  it('the bilinear head classifies sign(z)√|z| / ‖·‖ of the pooled matrix', () => {
    const store = new ParamStore(3);
    const head = new BilinearHead(store, 2, 3, 5);
    const f = tf.randomNormal([2, 5, 2], 0, 1, 'float32', 4) as tf.Tensor3D;
    const z = bilinearPool(inference, f, 5);
    const want = tf.add(tf.matMul(l2Normalize(inference, tf.mul(tf.sign(z), tf.sqrt(tf.abs(z))), [-1]), store.get('head.classifier.w')), store.get('head.classifier.b'));
    expect(maxAbsDiff(arr(head.forward(inference, f)), arr(want))).toBeLessThan(1e-5);
    store.dispose();
  });

  it('the low-rank head equals ⟨U_k V_kᵀ, (1/N) Σ f fᵀ⟩ for every class', () => {
    const store = new ParamStore(5);
    const head = new LowRankHead(store, 3, 2, 2);
    const f = tf.randomNormal([1, 4, 3], 0, 1, 'float32', 6) as tf.Tensor3D;
    const pooled = arr(bilinearPool(inference, f, 4)); // 3×3, row-major
    const u = head.u.arraySync() as number[][];
    const v = head.v.arraySync() as number[][];
    const want = [0, 1].map((k) => {
      let s = 0;
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) s += [0, 1].reduce((acc, j) => acc + u[a]![k * 2 + j]! * v[b]![k * 2 + j]!, 0) * pooled[a * 3 + b]!;
      return s;
    });
    expect(maxAbsDiff(arr(head.forward(inference, f)), want)).toBeLessThan(1e-4);
    store.dispose();
  });
});

describe('the reference notebook model: max-pooling trunk without batch norm, trace regulariser', () => {
  it('the trace term is Σ_k ‖U_k V_kᵀ‖²_F (1e-4 relative)', () => {
    const store = new ParamStore(7);
    const head = new LowRankHead(store, 4, 3, 2);
    const u = head.u.arraySync() as number[][];
    const v = head.v.arraySync() as number[][];
    let want = 0;
    for (let k = 0; k < 3; k++) {
      for (let a = 0; a < 4; a++) {
        for (let b = 0; b < 4; b++) {
          const w = [0, 1].reduce((acc, j) => acc + u[a]![k * 2 + j]! * v[b]![k * 2 + j]!, 0); // (U_k V_kᵀ)_ab
          want += w * w;
        }
      }
    }
    const got = head.traceTerm();
    expect(Math.abs(got.dataSync()[0]! - want) / want).toBeLessThan(1e-4);
    got.dispose();
    store.dispose();
  });

  it('two 3×3 convolutions with bias and 2×2 max pools take 28 px to a 7×7 map; the loss adds strength × the trace term', () => {
    const cfg = parseClassifierConfig(
      { model: { imageSize: 28, channels: [4, 4], strides: [2, 2], pool: 'max', batchNorm: false, head: 'lowrank', rank: 2 }, train: { traceRegularizer: 0.5 } },
      'notebook',
    );
    const net = new ClassifierNet(cfg, 3);
    const names = net.store.entries().map(([n]) => n);
    expect(names.filter((n) => n.startsWith('trunk.'))).toEqual(['trunk.conv0.w', 'trunk.conv0.b', 'trunk.conv1.w', 'trunk.conv1.b']);
    const logits = net.forward(inference, tf.zeros([2, 28, 28, 3]));
    expect(logits.shape).toEqual([2, 3]);
    const reg = net.regularizer()!;
    const term = (net as unknown as { head: LowRankHead }).head.traceTerm();
    expect(reg.dataSync()[0]).toBeCloseTo(0.5 * term.dataSync()[0]!, 5);
    tf.dispose([logits, reg, term]);
    // dropout (0.5 here) acts in training and not in inference
    const dropped = parseClassifierConfig({ model: { imageSize: 12, channels: [4], strides: [2], batchNorm: false, head: 'average', dropout: 0.5 } }, 'd');
    const small = new ClassifierNet(dropped, 2);
    const image = tf.randomUniform([1, 12, 12, 3], -1, 1, 'float32', 2);
    const once = (ops: typeof inference) => tf.tidy(() => Array.from(small.forward(ops, image).dataSync()));
    expect(once(inference)).toEqual(once(inference));
    expect(maxAbsDiff(once(training), once(inference))).toBeGreaterThan(1e-4);
    small.dispose();
    image.dispose();
    expect(() => parseClassifierConfig({ model: { head: 'bilinear' }, train: { traceRegularizer: 1 } }, 'c.json')).toThrow(
      "c.json: train.traceRegularizer regularises the lowrank head; model.head is 'bilinear'",
    );
    net.dispose();
  });
});

describe('vqa classify', () => {
  it('running out of the wasm heap names the batch size and, for the bilinear head, the smaller heads; other errors pass unchanged', () => {
    const cfg = (head: string) => parseClassifierConfig({ model: { head }, train: { batchSize: 96 } }, 'test');
    const oom = new Error('RuntimeError: memory access out of bounds');
    const bilinear = outOfMemoryHint(oom, cfg('bilinear')).message;
    expect(bilinear).toContain('with the bilinear head at batch 96: lower train.batchSize');
    expect(bilinear).toContain('use the lowrank or compact head');
    expect(outOfMemoryHint(oom, cfg('lowrank')).message).not.toContain('compact head');
    const other = new Error('ENOENT: no such file');
    expect(outOfMemoryHint(other, cfg('bilinear'))).toBe(other);
  });

  it('generates the fine-grained set, trains a bilinear CNN well above chance, and evaluates it from disk', async () => {
    const data = path.join(tempDir('fg'), 'd');
    await writeFineGrained(data, { train: 12, val: 5 }, 1, 24);
    expect(fs.readdirSync(path.join(data, 'train'))).toHaveLength(30);
    const config = parseClassifierConfig({ model: { imageSize: 24, channels: [8, 16], strides: [1, 2], head: 'bilinear' }, train: { epochs: 6, batchSize: 24 } }, 'test');
    const out = path.join(tempDir('fg-run'), 'run');
    const { net, history } = await trainClassifier({ dataDir: data, outDir: out, config, backend: await selectBackend('wasm'), log: () => {} });
    net.dispose();
    expect(history.at(-1)!.loss).toBeLessThan(history[0]!.loss);
    const { accuracy, count } = await evalClassifier(out, data, 'val');
    expect(count).toBe(30 * 5);
    expect(accuracy).toBeCloseTo(history.at(-1)!.valAccuracy, 5);
    expect(accuracy).toBeGreaterThan(3 * (100 / 30)); // chance is 3.3%

    // Served: POST /v1/classify answers with the classes the evaluation predicts, and leaks nothing.
    const running = await startServer(
      { modelDir: out, port: 0, host: '127.0.0.1', backend: 'wasm', workers: 1, maxBatch: 4, maxWaitMs: 5, http: { rateLimitPerMinute: 0 }, log: () => {} },
      modelLoaderFor(out),
    );
    try {
      const base = running.url.replace(/\/$/, '');
      await running.whenReady;
      const { net, classes } = loadClassifier(out);
      const cls = classes[7]!;
      const file = path.join(data, 'val', cls, '0.png');
      const pixels = new Float32Array(24 * 24 * 3);
      normalizePixels(await decodeImage(file, 24), pixels, 0);
      const expected = classes[tf.tidy(() => tf.argMax(net.forward(inference, tf.tensor4d(pixels, [1, 24, 24, 3])), 1).dataSync()[0]!)];
      net.dispose();
      const tensorsBefore = running.served.kind === 'classifier' ? running.served.classifier.tensorCount() : -1;
      const json = await request(base)
        .post('/v1/classify')
        .send({ image: fs.readFileSync(file).toString('base64'), top_k: 3 });
      const multipart = await request(base).post('/v1/classify').attach('image', fs.readFileSync(file), 'x.png');
      expect([json.status, multipart.status]).toEqual([200, 200]);
      expect(json.body.classes).toHaveLength(3);
      expect(json.body.classes[0].label).toBe(expected);
      expect(multipart.body.classes[0]).toEqual(json.body.classes[0]);
      expect(json.body.classes[0].score).toBeGreaterThanOrEqual(json.body.classes[1].score);
      expect((await request(base).post('/v1/classify').send({ image: 'bm90IGFuIGltYWdl' })).status).toBe(400);
      expect(
        (
          await request(base)
            .post('/v1/classify')
            .send({ image: fs.readFileSync(file).toString('base64'), question: 'why?' })
        ).body.error.code,
      ).toBe('unknown_field');
      expect((await request(base).post('/v1/answer').send({ image: 'x', question: 'q' })).status).toBe(404);
      // its own page: upload an image, see the classes
      const root = await request(base).get('/');
      expect([root.status, root.headers.location]).toEqual([302, '/classify/']);
      const page = await request(base).get('/classify/');
      expect(page.text).toContain('<h1>Classify an image</h1>');
      expect((await request(base).get('/classify/classify.js')).text).toContain("fetch('/v1/classify'");
      expect(running.served.kind === 'classifier' && running.served.classifier.tensorCount()).toBe(tensorsBefore);
    } finally {
      await running.close();
    }
  });

  it('shares the training loop and run folder of VQA training: a run killed after an epoch resumes to the same weights as one run straight through', async () => {
    const data = path.join(tempDir('fg-resume'), 'd');
    await writeFineGrained(data, { train: 4, val: 2 }, 3, 24);
    const config = (epochs: number) =>
      parseClassifierConfig({ model: { imageSize: 24, channels: [8, 8], strides: [2, 2], head: 'lowrank' }, train: { epochs, batchSize: 16 } }, 'test');
    const backend = await selectBackend('wasm');
    const straight = path.join(tempDir('fg-straight'), 'run');
    const a = await trainClassifier({ dataDir: data, outDir: straight, config: config(2), backend, log: () => {} });
    const resumed = path.join(tempDir('fg-resumed'), 'run');
    (await trainClassifier({ dataDir: data, outDir: resumed, config: config(1), backend, log: () => {} })).net.dispose();
    expect(fs.readdirSync(path.join(resumed, 'checkpoint'))).toEqual(expect.arrayContaining(['optimizer.bin', 'train-state.json', 'classifier-config.json']));
    await expect(trainClassifier({ dataDir: data, outDir: resumed, config: config(2), backend, log: () => {} })).rejects.toThrow('already holds a training run');
    const lines: string[] = [];
    const b = await trainClassifier({ dataDir: data, outDir: resumed, config: config(2), backend, resume: true, log: (l) => lines.push(l) });
    expect(lines[0]).toBe(`resuming ${resumed} after epoch 1`);
    expect(b.history.map((h) => h.epoch)).toEqual([0, 1]);
    expect(fs.readFileSync(path.join(resumed, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    expect(fs.readFileSync(path.join(resumed, 'report.html'), 'utf8')).toContain('lowrank classifier');
    for (const [name, v] of a.net.store.entries()) expect(maxAbsDiff(v.dataSync(), b.net.store.get(name).dataSync()), name).toBe(0);
    a.net.dispose();
    b.net.dispose();
  });
});

describe('vqa classify on a frozen pretrained backbone', () => {
  it('extracts a tfjs folder’s feature map once, trains the head on it, evaluates and serves through the backbone', async () => {
    const modelDir = path.join(tempDir('cls-backbone'), 'tiny');
    (await writeTinyTfjsLayers(modelDir)).dispose();
    // two classes a frozen random conv tells apart: reddish and bluish noise
    const data = path.join(tempDir('cls-backbone-data'), 'd');
    let seed = 1;
    const noise = () => ((seed = (seed * 16807) % 2147483647) % 96) - 48;
    for (const [split, n] of [
      ['train', 12],
      ['val', 5],
    ] as const)
      for (const [cls, rgb] of [
        ['red', [200, 60, 60]],
        ['blue', [60, 60, 200]],
      ] as const) {
        fs.mkdirSync(path.join(data, split, cls), { recursive: true });
        for (let i = 0; i < n; i++) {
          const px = Buffer.from(Array.from({ length: 24 * 24 * 3 }, (_, j) => Math.max(0, Math.min(255, rgb[j % 3]! + noise()))));
          await sharp(px, { raw: { width: 24, height: 24, channels: 3 } })
            .png()
            .toFile(path.join(data, split, cls, `${i}.png`));
        }
      }
    const config = parseClassifierConfig({ model: { head: 'bilinear', backbone: { model: modelDir, layer: 'conv_b' } }, train: { epochs: 8, batchSize: 8, lr: 0.02 } }, 'test');
    expect(() => parseClassifierConfig({ model: { backbone: { model: modelDir } }, train: { augment: { flip: true } } }, 'c.json')).toThrow(
      "c.json: train.augment changes pixels, but model.backbone's features are extracted once per image",
    );
    const out = path.join(tempDir('cls-backbone-run'), 'run');
    const { net, history } = await trainClassifier({ dataDir: data, outDir: out, config, backend: await selectBackend('wasm'), log: () => {} });
    net.dispose();
    expect(history.at(-1)!.loss).toBeLessThan(history[0]!.loss);
    const record = JSON.parse(fs.readFileSync(path.join(out, 'model', 'backbone.json'), 'utf8'));
    expect([record.grid, record.width]).toEqual([[4, 4], 6]);
    expect(fs.readdirSync(path.join(data, '.vqa-cache')).filter((f) => f.startsWith('train-features-') && f.endsWith('.bin'))).toHaveLength(1);
    const { accuracy } = await evalClassifier(out, data, 'val');
    expect(accuracy).toBeCloseTo(history.at(-1)!.valAccuracy, 5);
    expect(accuracy).toBeGreaterThanOrEqual(90);

    // Served: the upload goes through the backbone, then the head; the same class as computed here.
    const { net: saved, classes, backbone } = await openClassifier(out);
    const file = path.join(data, 'val', 'blue', '1.png');
    const features = await backbone!.model.extract([await backbone!.model.decode(fs.readFileSync(file))]);
    const expected = classes[tf.tidy(() => tf.argMax(saved.forward(inference, tf.tensor3d(features.rows[0]!, [1, 16, 6])), 1).dataSync()[0]!)];
    saved.dispose();
    const running = await startServer(
      { modelDir: out, port: 0, host: '127.0.0.1', backend: 'wasm', workers: 1, maxBatch: 4, maxWaitMs: 5, http: { rateLimitPerMinute: 0 }, log: () => {} },
      modelLoaderFor(out),
    );
    try {
      await running.whenReady;
      const res = await request(running.url.replace(/\/$/, ''))
        .post('/v1/classify')
        .send({ image: fs.readFileSync(file).toString('base64'), top_k: 2 });
      expect(res.status).toBe(200);
      expect(res.body.classes[0].label).toBe(expected);
      expect(expected).toBe('blue');
    } finally {
      await running.close();
    }
  });
});
