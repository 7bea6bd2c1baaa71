// `npm run bench -- train [--backend B] [--steps N] [--config FILE]`: training throughput and
// single-question latency of the default model on one backend, beside the PyTorch reference
// of the same architecture (bench/torch_reference.py) when /usr/bin/python3 has torch.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { BACKEND_NAMES, describeBackend, selectBackend, type BackendName } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { runParity } from './parity.ts';
import { torchParity } from './torch_parity.ts';
import { loadTest } from './serve_load.ts';
import { stallBench } from './stall.ts';
import { scaleBench } from './scale.ts';
import { workerEngine } from '../src/server/engine.ts';
import { loadOnnxRuntime, OnnxPredictor } from '../src/infer/onnx_predictor.ts';
import { RUNTIME_NAMES, TfjsPredictor, type Predictor, type RuntimeName } from '../src/infer/predictor.ts';
import type { PreparedQuestion } from '../src/infer/prepare.ts';
import type { ModelCard } from '../src/model/checkpoint.ts';
import { decodeImage } from '../src/data/images.ts';
import { openImageStore } from '../src/data/image_store.ts';
import { openFeatureStore, type FeatureDtype } from '../src/data/feature_store.ts';
import { PretrainedImageModel } from '../src/vision/pretrained_model.ts';
import { loadDataset } from '../src/data/manifest.ts';
import { loadSplit } from '../src/data/split.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { parseRunConfig } from '../src/config/config.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { Adam } from '../src/train/adam.ts';
import { DataParallelRunner } from '../src/train/data_parallel.ts';
import { LocalRunner, type StepRunner } from '../src/train/runner.ts';
import { readJsonFile } from '../src/util/json_file.ts';
import type { Sample } from '../src/data/split.ts';
import type { BatchArrays } from '../src/inputs/batches.ts';
import { Rng } from '../src/util/rng.ts';

// In the repository this file is bench/main.ts; in the GPU pack it is bundled next to torch_reference.py.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const SHAPES = { batch: 64, images: 7, vocab: 80, answers: 30 };

/** Fixed random inputs for the given questions: question i asks about image (i mod 7). */
function randomArrays(samples: Sample[], imageSize: number, maxTokens: number, withTargets: boolean): BatchArrays {
  const rng = new Rng(samples.length);
  const imageIds = [...new Set(samples.map((s) => s.imageId))];
  const batch = samples.length;
  const targets = new Float32Array(batch * SHAPES.answers);
  for (let b = 0; b < batch; b++) targets[b * SHAPES.answers + (b % SHAPES.answers)] = 1;
  return {
    batch,
    images: imageIds.length,
    imageShape: [imageSize, imageSize, 3],
    imageValues: Float32Array.from({ length: imageIds.length * imageSize * imageSize * 3 }, () => rng.next() * 4 - 2),
    imageIndex: Int32Array.from(samples, (s) => imageIds.indexOf(s.imageId)),
    maxTokens,
    textWidth: 0,
    text: Int32Array.from({ length: batch * maxTokens }, () => rng.int(1, SHAPES.vocab)),
    mask: new Float32Array(batch * maxTokens).fill(1),
    targets: withTargets ? targets : undefined,
    answers: SHAPES.answers,
  };
}

function fakeSamples(n: number, images: number): Sample[] {
  return Array.from({ length: n }, (_, i) => ({ questionId: i, imageId: i % images, question: '' }));
}

interface TorchOptions {
  python: string;
  device: string;
  threads: number;
}

function torchReference(configFile: string, steps: number, o: TorchOptions): Record<string, unknown> | string {
  const { python } = o;
  const check = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (check.error || check.status !== 0) return `skipped: ${python} has no torch (apt-get install python3-torch libopenblas0-pthread)`;
  const r = spawnSync(
    python,
    [
      path.join(HERE, 'torch_reference.py'),
      '--config',
      configFile,
      '--steps',
      String(steps),
      '--threads',
      String(o.threads),
      '--device',
      o.device,
      '--batch',
      String(SHAPES.batch),
      '--images',
      String(SHAPES.images),
      '--vocab',
      String(SHAPES.vocab),
      '--answers',
      String(SHAPES.answers),
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) return `failed: ${r.stderr.trim().split('\n').at(-1)}`;
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

/** Median over `reps` timings of `run`, in seconds (the PyTorch reference measures the same way). */
async function medianSeconds(run: () => Promise<unknown>, reps = 5): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    times.push((performance.now() - t0) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(reps / 2)]!;
}

/**
 * Runs `run` for `seconds` (at least 3 times) before anything is timed: onnxruntime took some
 * hundred calls after a training run to reach its steady latency (0.83 ms on the first timing,
 * 0.34 ms on a second). The PyTorch reference warms up the same way.
 */
async function warmUp(run: () => Promise<unknown>, seconds = 0.5): Promise<void> {
  const until = performance.now() + seconds * 1000;
  for (let i = 0; i < 3 || performance.now() < until; i++) await run();
}

/** Single-question latency (ms) and batched answers/s (64 questions on 7 images) of one predictor, medians of 5. */
async function answerTimings(predictor: Predictor, imageSize: number, maxTokens: number): Promise<{ latencyMs: number; batchedPerSecond: number }> {
  const one = randomArrays(fakeSamples(1, 1), imageSize, maxTokens, false);
  await warmUp(() => predictor.predict(one, 5));
  const latencyMs =
    (1000 *
      (await medianSeconds(async () => {
        for (let i = 0; i < 20; i++) await predictor.predict(one, 5);
      }))) /
    20;
  const full = randomArrays(fakeSamples(SHAPES.batch, SHAPES.images), imageSize, maxTokens, false);
  await warmUp(() => predictor.predict(full, 5));
  const batchedPerSecond =
    (10 * SHAPES.batch) /
    (await medianSeconds(async () => {
      for (let i = 0; i < 10; i++) await predictor.predict(full, 5);
    }));
  return { latencyMs, batchedPerSecond };
}

/**
 * Batched answers/s through the server's engine (worker processes, as vqa serve runs): rounds of 64
 * questions on 7 images (as in the single-thread measure and the PyTorch reference), all in flight.
 */
async function answersThroughWorkers(
  model: VqaModel,
  o: { backend: BackendName } & ServingOptions,
  imageSize: number,
  maxTokens: number,
): Promise<{ answersPerSecond: number; runtime: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqa-bench-model-'));
  const card: ModelCard = {
    name: 'bench',
    created: new Date().toISOString(),
    data: { name: 'random', dir: '', trainQuestions: 0, valQuestions: 0 },
    epochs: 1,
    parameters: model.net.store.countTrainable(),
    backend: o.backend,
    versions: {},
  };
  await model.save(path.join(dir, 'model'), card);
  const engine = workerEngine({ modelDir: path.join(dir, 'model'), maxBatch: SHAPES.batch, maxWaitMs: 5, ...o });
  try {
    const runtime = await engine.whenReady();
    const arrays = randomArrays(fakeSamples(SHAPES.batch, SHAPES.images), imageSize, maxTokens, false);
    const perImage = imageSize * imageSize * 3;
    const question = (i: number): PreparedQuestion => {
      const b = i % SHAPES.batch;
      const image = arrays.imageIndex[b]!;
      return {
        image: arrays.imageValues.slice(image * perImage, (image + 1) * perImage),
        imageKey: `image ${image}`,
        text: arrays.text.slice(b * maxTokens, (b + 1) * maxTokens),
        tokens: Array.from({ length: maxTokens }, () => 'w'),
        unknownWords: [],
        topK: 5,
      };
    };
    const round = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => engine.answer(question(i))));
    await round(2 * o.workers * SHAPES.batch);
    const total = 10 * o.workers * SHAPES.batch;
    return { answersPerSecond: total / (await medianSeconds(() => round(total))), runtime };
  } finally {
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** How the server's engine is run for the served answers/s. */
interface ServingOptions {
  runtime: RuntimeName;
  workers: number;
  threads: number;
}

async function benchTrain(
  backendName: BackendName,
  steps: number,
  configFile: string,
  workers: number,
  serving: ServingOptions,
  torchOptions: TorchOptions | undefined,
): Promise<void> {
  const backend = await selectBackend(backendName);
  const config = parseRunConfig(readJsonFile(configFile), configFile);
  const vocab = ['[PAD]', '[UNK]', ...Array.from({ length: SHAPES.vocab - 2 }, (_, i) => `w${i}`)];
  const model = new VqaModel(config, QuestionTokenizer.fromVocabulary(vocab).files, new AnswerVocab(Array.from({ length: SHAPES.answers }, (_, i) => `a${i}`)));
  const { imageSize, language } = config.model;
  const makeArrays = (s: Sample[]) => randomArrays(s, imageSize, language.maxTokens, true);
  const runner: StepRunner =
    workers > 1
      ? await DataParallelRunner.start(model, workers, backend.name, makeArrays)
      : new LocalRunner(model, new Adam(model.net.store.trainable(), { betas: config.train.betas, eps: config.train.adamEps, clipNorm: config.train.clipNorm }), makeArrays);
  const samples = fakeSamples(SHAPES.batch, SHAPES.images);
  for (let i = 0; i < 3; i++) await runner.step(samples, 1e-4, true);
  const tensorsBefore = tf.memory().numTensors;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await runner.step(samples, 1e-4, true);
  const secs = (performance.now() - t0) / 1000;
  const tensorsLeaked = tf.memory().numTensors - tensorsBefore;
  await runner.dispose();
  const peakRssMb = process.resourceUsage().maxRSS / 1024; // training alone, before any inference
  const predictors: Predictor[] = [new TfjsPredictor(model)];
  const ort = await loadOnnxRuntime();
  if (typeof ort === 'string') console.log(`onnxruntime: ${ort}`);
  else for (const threads of new Set([1, os.availableParallelism()])) predictors.push(await OnnxPredictor.create(ort, model, threads));
  const answering: Record<string, { latencyMs: number; batchedPerSecond: number }> = {};
  for (const p of predictors) answering[p.runtime] = await answerTimings(p, imageSize, language.maxTokens);
  const served = await answersThroughWorkers(model, { backend: backend.name, ...serving }, imageSize, language.maxTokens);
  const ours = { samplesPerSecond: (SHAPES.batch * steps) / secs, stepMs: (1000 * secs) / steps, peakRssMb, tensorsLeaked, answering, served };
  // the reference reads the config in its current form, whatever form the file has
  const currentForm = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vqa-bench-config-')), 'config.json');
  fs.writeFileSync(currentForm, JSON.stringify(config));
  const torch = torchOptions ? torchReference(currentForm, steps, torchOptions) : 'skipped (--no-torch)';
  fs.rmSync(path.dirname(currentForm), { recursive: true, force: true });
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const servedAs = `vqa serve --runtime ${serving.runtime} --workers ${serving.workers} --threads ${serving.threads}`;
  console.log(`vqa bench train · ${describeBackend(backend)}`);
  console.log(`machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.versions.node}`);
  console.log(
    `workload: ${configFile}, ${model.net.store.countTrainable().toLocaleString('en')} parameters; batch ${SHAPES.batch} questions on ${SHAPES.images} images, ${steps} timed steps after 3 warm-up steps, answer timings the median of 5; ${workers} training thread${workers === 1 ? '' : 's'}`,
  );
  console.log(
    `vqa training (${backend.name}, ${workers} thread${workers === 1 ? '' : 's'}): ${ours.samplesPerSecond.toFixed(1)} samples/s · ${ours.stepMs.toFixed(0)} ms/step · peak RSS ${ours.peakRssMb.toFixed(0)} MB · tensors leaked ${ours.tensorsLeaked}`,
  );
  for (const [runtime, t] of Object.entries(answering))
    console.log(`vqa answers on ${runtime}: latency ${t.latencyMs.toFixed(2)} ms · batched ${t.batchedPerSecond.toFixed(0)} answers/s`);
  console.log(`vqa answers through the server's engine (${servedAs}; ${served.runtime}): ${served.answersPerSecond.toFixed(0)} answers/s`);
  if (typeof torch === 'string') console.log(`pytorch reference: ${torch}`);
  else {
    const ts = torch.samples_per_s as number;
    const [torchLatency, torchBatched] = [torch.answer_latency_ms as number, torch.batched_answers_per_s as number];
    console.log(
      `pytorch ${torch.torch} on ${torch.device} (${torch.threads} threads, BLAS ${torch.blas}): ${ts.toFixed(1)} samples/s · ${(torch.step_ms as number).toFixed(0)} ms/step · answer latency ${torchLatency.toFixed(2)} ms · batched ${torchBatched.toFixed(0)} answers/s · peak RSS ${(torch.peak_rss_mb as number).toFixed(0)} MB`,
    );
    console.log(`ratio vqa/pytorch (>1 means vqa is faster): training ${(ours.samplesPerSecond / ts).toFixed(2)}×`);
    for (const [runtime, t] of Object.entries(answering))
      console.log(
        `  answers on ${runtime}: single-question latency ${(torchLatency / t.latencyMs).toFixed(2)}× · batched answers/s ${(t.batchedPerSecond / torchBatched).toFixed(2)}×`,
      );
    console.log(`  served (${servedAs}): batched answers/s ${(served.answersPerSecond / torchBatched).toFixed(2)}×`);
  }
  console.log(JSON.stringify({ backend: backend.name, workers, ours, torch }));
  model.dispose();
}

async function benchImages(dataDir: string, splitName: string, size: number): Promise<void> {
  const split = loadSplit(loadDataset(dataDir), splitName);
  const n = split.imageIds.length;
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) await decodeImage(split.imagePath(split.imageIds[next++]!), size);
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const decodeSecs = (performance.now() - t0) / 1000;
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqa-bench-store-'));
  await openImageStore(split, { cacheDir, size, skipBad: false });
  const t1 = performance.now();
  const { from } = await openImageStore(split, { cacheDir, size, skipBad: false });
  const storeSecs = (performance.now() - t1) / 1000;
  fs.rmSync(cacheDir, { recursive: true, force: true });
  console.log(`vqa bench images · ${dataDir} split ${splitName}: ${n} images at ${size}×${size} · ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}`);
  console.log(`decoding the files (sharp, 4 in flight): ${(n / decodeSecs).toFixed(0)} images/s (${decodeSecs.toFixed(2)} s)`);
  console.log(`reading the packed store (${from}): ${(n / storeSecs).toFixed(0)} images/s (${storeSecs.toFixed(3)} s) · ${(decodeSecs / storeSecs).toFixed(0)}× faster`);
}

/** First extraction of a split's region features (building the packed feature store) vs reusing the store. */
async function benchFeatures(dataDir: string, splitName: string, modelId: string, dtype: FeatureDtype): Promise<void> {
  const split = loadSplit(loadDataset(dataDir), splitName);
  const n = split.imageIds.length;
  const image = await PretrainedImageModel.load({ model: modelId, quantized: false });
  const { grid, width } = await image.probe();
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqa-bench-features-'));
  const o = { cacheDir, dtype, grid, width, skipBad: false };
  const t0 = performance.now();
  const built = await openFeatureStore(split, image, o);
  const extractSecs = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const reused = await openFeatureStore(split, image, o);
  const reuseSecs = (performance.now() - t1) / 1000;
  const bytes = fs
    .readdirSync(cacheDir)
    .filter((f) => f.endsWith('.bin'))
    .reduce((sum, f) => sum + fs.statSync(path.join(cacheDir, f)).size, 0);
  fs.rmSync(cacheDir, { recursive: true, force: true });
  console.log(
    `vqa bench features · ${dataDir} split ${splitName}: ${n} images · model ${modelId} (${grid.join('×')} regions of ${width}) · ${dtype} · ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}`,
  );
  console.log(`first extraction (${built.from}): ${(n / extractSecs).toFixed(0)} images/s (${extractSecs.toFixed(2)} s), store ${(bytes / 2 ** 20).toFixed(1)} MiB`);
  console.log(`reuse (${reused.from}): ${(n / reuseSecs).toFixed(0)} images/s (${reuseSecs.toFixed(3)} s) · ${(extractSecs / reuseSecs).toFixed(0)}× faster`);
}

const program = new Command('bench');
program
  .command('torch-parity')
  .description('the PyTorch reference against the network on the same weights and inputs (bundled models and a random MFH model)')
  .option('--python <path>', 'python with torch', '/usr/bin/python3')
  .action(async (o) => {
    await selectBackend('wasm');
    if (!torchParity(o.python, path.join(HERE, 'torch_reference.py'), ROOT)) process.exitCode = 1;
  });
program
  .command('train', { isDefault: true })
  .description('training samples/s, answer latency and peak RSS, beside the PyTorch reference')
  .addOption(new Option('--backend <name>').choices(BACKEND_NAMES).default('wasm'))
  .option('--steps <n>', 'timed steps', (v) => Number(v), 20)
  .option('--config <file>', 'model config (default: the bundled clevr-lite recipe)', path.join(ROOT, 'models', 'clevr-lite.config.json'))
  .option('--python <path>', 'python with torch for the reference', '/usr/bin/python3')
  .option('--torch-device <device>', 'cpu or cuda', 'cpu')
  .option('--torch-threads <n>', 'torch CPU threads', (v) => Number(v), 2)
  .option('--workers <n>', 'data-parallel training threads', (v) => Number(v), 1)
  .addOption(new Option('--runtime <name>', 'runtime of the answers measured through the server engine').choices(RUNTIME_NAMES).default('auto'))
  .option('--inference-workers <n>', 'inference worker processes of the server engine', (v) => Number(v), 1)
  .option('--threads <n>', 'onnxruntime threads per inference worker', (v) => Number(v), 1)
  .option('--no-torch', 'skip the PyTorch reference')
  .action(async (o) => {
    const serving = { runtime: o.runtime, workers: o.inferenceWorkers, threads: o.threads };
    await benchTrain(o.backend, o.steps, o.config, o.workers, serving, o.torch ? { python: o.python, device: o.torchDevice, threads: o.torchThreads } : undefined);
  });
program
  .command('images')
  .description('images/s for one epoch of a split: decoding every file vs reading the packed store')
  .requiredOption('--data <dir>', 'data set folder')
  .option('--split <name>', 'split', 'train')
  .option('--size <px>', 'image size', (v) => Number(v), 64)
  .action(async (o) => benchImages(o.data, o.split, o.size));
program
  .command('features')
  .description('images/s of a split: extracting region features with a pretrained model (first run) vs reusing the feature store')
  .requiredOption('--data <dir>', 'data set folder')
  .requiredOption('--model <id>', 'pretrained image model (an id under $VQA_PRETRAINED_DIR, or an absolute path)')
  .option('--split <name>', 'split', 'train')
  .addOption(new Option('--dtype <dtype>', 'store precision').choices(['float16', 'float32']).default('float16'))
  .action(async (o) => benchFeatures(o.data, o.split, o.model, o.dtype));
program
  .command('serve')
  .description('load test of vqa serve on loopback: answers/s, latency, 5xx, tensors and RSS before and after')
  .option('--model <dir>', 'model folder', path.join(ROOT, 'models', 'clevr-lite'))
  .option('--image <file>', 'image to ask about', path.join(ROOT, 'src', 'server', 'public', 'examples', 'clevr-lite-val-1.png'))
  .option('--question <text>', 'question', 'What color is the large circle?')
  .option('--requests <n>', 'requests at most', (v) => Number(v), 400)
  .option('--concurrency <n>', 'requests in flight', (v) => Number(v), 8)
  .option('--max-seconds <n>', 'stop sending after this long', (v) => Number(v), 60)
  .option('--workers <n>', 'inference workers', (v) => Number(v), 1)
  .option('--max-batch <n>', 'questions per forward pass at most', (v) => Number(v), 8)
  .addOption(new Option('--backend <name>').choices(BACKEND_NAMES).default('wasm'))
  .addOption(new Option('--runtime <name>').choices(RUNTIME_NAMES).default('auto'))
  .action(async (o) =>
    loadTest({
      modelDir: o.model,
      image: o.image,
      question: o.question,
      requests: o.requests,
      concurrency: o.concurrency,
      maxSeconds: o.maxSeconds,
      workers: o.workers,
      maxBatch: o.maxBatch,
      backend: o.backend,
      runtime: o.runtime,
    }),
  );
program
  .command('stall')
  .description('/healthz polled while the requests that once stalled the server, and a fuzz of bad ones, are sent: waits against 100 ms')
  .option('--model <dir>', 'model folder', path.join(ROOT, 'models', 'sort-of-clevr'))
  .option('--fuzz <n>', 'fuzzed bad requests after the known ones', (v) => Number(v), 2000)
  .action(async (o) => stallBench({ modelDir: o.model, fuzz: o.fuzz }));
program
  .command('scale')
  .description(
    'the pipeline at VQA v2 size: builds (or reuses) a VQA v2-shaped set with random features and token states, trains and evaluates; store sizes, time to open, questions/s, peak RSS',
  )
  .option('--images <n>', 'train images (VQA v2 train: 82,783)', (v) => Number(v), 2000)
  .option('--val-images <n>', 'val images', (v) => Number(v), 1000)
  .option('--questions-per-image <n>', 'questions per image on average', (v) => Number(v), 5.4)
  .option('--answers <n>', 'answers the classifier keeps', (v) => Number(v), 3129)
  .option('--regions <n>', 'image regions (49 = 7×7, 256 = 16×16)', (v) => Number(v), 49)
  .option('--width <n>', 'region feature width', (v) => Number(v), 2048)
  .option('--text-width <n>', 'token state width', (v) => Number(v), 384)
  .option('--max-tokens <n>', 'tokens per question', (v) => Number(v), 20)
  .option('--d <n>', 'model width', (v) => Number(v), 512)
  .option('--steps <n>', 'training steps', (v) => Number(v), 200)
  .option('--eval-questions <n>', 'val questions evaluated', (v) => Number(v), 4000)
  .option('--batch <n>', 'questions per step', (v) => Number(v), 64)
  .option('--dir <dir>', 'where the set is built and kept', path.join(os.tmpdir(), 'vqa-bench-scale'))
  .option('--measure-only', 'measure a set already built (the benchmark runs itself so in a fresh process)')
  .action(async (o) => scaleBench(o, Boolean(o.measureOnly)));
program
  .command('adapter')
  .description('describe the WebGPU adapter Dawn finds')
  .action(async () => {
    const info = await selectBackend('webgpu');
    console.log(describeBackend(info));
  });
program
  .command('parity')
  .description('compare a backend with cpu on the training operations and whole-network gradients')
  .addOption(new Option('--backend <name>').choices(BACKEND_NAMES).default('wasm'))
  .action(async (o) => {
    const info = await selectBackend(o.backend);
    console.log(`parity of ${describeBackend(info)} against cpu`);
    const results = await runParity(info.tfName);
    for (const r of results)
      console.log(
        `${r.ok ? 'ok  ' : 'FAIL'} ${r.name.padEnd(52)} relative error ${r.relativeError.toExponential(2)} (tolerance ${r.tolerance.toExponential(0)}), max abs ${r.maxAbsError.toExponential(2)}`,
      );
    const failed = results.filter((r) => !r.ok).length;
    console.log(`${results.length - failed} passed, ${failed} failed`);
    if (failed > 0) process.exitCode = 1;
  });
// Exit explicitly: Dawn's device keeps the event loop alive after the work is done.
program
  .parseAsync(process.argv)
  .then(() => process.exit(process.exitCode ?? 0))
  .catch((err: Error) => {
    console.error(`error: ${err.message}`);
    process.exit(1);
  });
