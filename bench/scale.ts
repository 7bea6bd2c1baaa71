// `npm run bench -- scale`: the pipeline at VQA v2 size (issue 35). It builds, or reuses, a set
// shaped like VQA v2 — the official question and annotation files, ~5.4 questions an image, a
// long-tailed answer distribution over the top answers, random region features in a feature store
// and random token states in a text-state store, both float16 as a pretrained run would write
// them — then, in a fresh process, opens it, trains a few hundred steps and evaluates a few
// thousand questions, printing store sizes, time to open, questions/s and peak RSS.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectBackend, describeBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { openFeatureStore, type RegionExtractor } from '../src/data/feature_store.ts';
import { loadDataset, MANIFEST_FILE } from '../src/data/manifest.ts';
import { cacheDirOf, progressReporter } from '../src/data/prepare.ts';
import { loadSplit, type LoadedSplit } from '../src/data/split.ts';
import { openTextStateStore } from '../src/data/text_state_store.ts';
import { parseRunConfig } from '../src/config/config.ts';
import { predictAnswers, scorePredictions } from '../src/eval/evaluate.ts';
import { batchArrays, epochBatches } from '../src/inputs/batches.ts';
import type { EncodedQuestion } from '../src/language/question_rows.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { Adam } from '../src/train/adam.ts';
import { LocalRunner } from '../src/train/runner.ts';
import { makeDirectory } from '../src/util/make_dir.ts';
import { Rng } from '../src/util/rng.ts';

export interface ScaleOptions {
  dir: string;
  images: number;
  valImages: number;
  questionsPerImage: number;
  answers: number;
  regions: number;
  width: number;
  textWidth: number;
  maxTokens: number;
  d: number;
  steps: number;
  evalQuestions: number;
  batch: number;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const GIB = 2 ** 30;
/** Peak RSS the issue allows at VQA v2 train size, and the share of a step loading may take. */
const TARGETS = { peakRssGb: 3, loadingShare: 0.1 };

// VQA v2 train: 38% yes/no, 12% number, 50% other; each family's answers long-tailed (Zipf).
const FAMILIES = [
  { type: 'yes/no', share: 0.38, starts: ['is the', 'are there', 'is this', 'does the', 'is there a', 'can you', 'are the', 'do you'] },
  { type: 'number', share: 0.12, starts: ['how many', 'how many people are', 'what number is', 'how many people are in'] },
  { type: 'other', share: 0.5, starts: ['what color is the', 'what is the', 'what is', 'where is the', 'what type of', 'what kind of', 'which', 'who is', 'why'] },
] as const;
const WORDS = (
  'man woman dog cat plate table bus train street sign tree sky shirt hat car bike horse kite pizza cake room wall floor window ' +
  'chair bed phone laptop clock boat water snow grass field person child ball bat racket glass cup bowl food bench road light pole building'
).split(' ');

/** Long-tailed draws: item i with weight 1/(i+1). */
class Zipf {
  private readonly cdf: Float64Array;
  constructor(n: number) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) this.cdf[i] = sum += 1 / (i + 1);
    for (let i = 0; i < n; i++) this.cdf[i]! /= sum;
  }
  draw(rng: Rng): number {
    const u = rng.next();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Each family's answer strings: yes/no, 0–100, and `answerN`, the tail beyond the classifier's list included. */
function answerLists(answers: number): string[][] {
  const other = Math.max(answers * 4, 100);
  return [['yes', 'no'], Array.from({ length: 101 }, (_, i) => String(i)), Array.from({ length: other }, (_, i) => `answer${i}`)];
}

function setName(o: ScaleOptions): string {
  return `vqa2-shaped-${o.images}x${o.questionsPerImage}-${o.answers}a`;
}

/** Writes a split's questions and annotations in the official format, a row at a time (the annotations of VQA v2 train are ~300 MB of JSON). */
function writeSplit(dir: string, split: string, images: number, firstImageId: number, firstQuestionId: number, o: ScaleOptions, rng: Rng): void {
  const lists = answerLists(o.answers);
  const draws = lists.map((l) => new Zipf(l.length));
  const q = fs.openSync(path.join(dir, `${split}_questions.json`), 'w');
  const a = fs.openSync(path.join(dir, `${split}_annotations.json`), 'w');
  fs.writeSync(q, `{"info":{"description":"a VQA v2-shaped set for vqa bench scale"},"data_type":"mscoco","data_subtype":"${split}2014","questions":[`);
  fs.writeSync(a, `{"info":{"description":"a VQA v2-shaped set for vqa bench scale"},"data_type":"mscoco","data_subtype":"${split}2014","annotations":[`);
  let questionId = firstQuestionId;
  let first = true;
  for (let i = 0; i < images; i++) {
    const imageId = firstImageId + 7 * i; // sparse ids, as COCO's
    const count = Math.floor(o.questionsPerImage) + (rng.next() < o.questionsPerImage % 1 ? 1 : 0);
    const qs: string[] = [];
    const as: string[] = [];
    for (let k = 0; k < count; k++) {
      const u = rng.next();
      const f = u < FAMILIES[0].share ? 0 : u < FAMILIES[0].share + FAMILIES[1].share ? 1 : 2;
      const family = FAMILIES[f];
      const start = family.starts[rng.int(0, family.starts.length)]!;
      const words = Array.from({ length: rng.int(1, 5) }, () => WORDS[rng.int(0, WORDS.length)]!);
      const question = `${start[0]!.toUpperCase()}${start.slice(1)} ${words.join(' ')}?`;
      const truth = lists[f]![draws[f]!.draw(rng)]!;
      // most annotators agree; the others give another answer of the family
      const given = Array.from({ length: 10 }, (_, j) => ({
        answer: rng.next() < 0.75 ? truth : lists[f]![draws[f]!.draw(rng)]!,
        answer_confidence: 'yes',
        answer_id: j + 1,
      }));
      qs.push(JSON.stringify({ image_id: imageId, question, question_id: questionId }));
      as.push(JSON.stringify({ question_type: start, multiple_choice_answer: truth, answers: given, image_id: imageId, answer_type: family.type, question_id: questionId }));
      questionId++;
    }
    if (qs.length === 0) continue;
    fs.writeSync(q, (first ? '' : ',') + qs.join(','));
    fs.writeSync(a, (first ? '' : ',') + as.join(','));
    first = false;
  }
  fs.writeSync(q, ']}');
  fs.writeSync(a, ']}');
  fs.closeSync(q);
  fs.closeSync(a);
}

function writeFiles(dir: string, o: ScaleOptions): void {
  makeDirectory(dir);
  const rng = new Rng(35);
  writeSplit(dir, 'train', o.images, 9, 1, o, rng);
  writeSplit(dir, 'val', o.valImages, 10, 1e9, o, rng);
  const split = (name: string) => ({
    questions: `${name}_questions.json`,
    annotations: `${name}_annotations.json`,
    images: `${name}2014`,
    imageFile: `COCO_${name}2014_{image_id:012}.jpg`,
  });
  const manifest = { name: setName(o), version: 1, splits: { train: split('train'), val: split('val') } };
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2)); // last: its presence marks the files complete
}

/** A fixed random row of `length` + 4,096 values; each item reads `length` of them from an offset of its own. */
function randomSource(length: number, seed: number): { row: (key: string) => Float32Array } {
  const rng = new Rng(seed);
  const values = Float32Array.from({ length: length + 4096 }, () => rng.next() * 2 - 1);
  const offset = (key: string) => createHash('sha1').update(key).digest().readUInt32LE(0) % 4096;
  return { row: (key) => values.subarray(offset(key), offset(key) + length) };
}

/** Region features for every image without an image model: the feature store is built by the same code as for a real one. */
function randomRegions(o: ScaleOptions): RegionExtractor<string> {
  const source = randomSource(o.regions * o.width, 1);
  return {
    record: { model: `random-regions-${o.regions}x${o.width}`, file: 'none', sha256: createHash('sha256').update(`regions ${o.regions} ${o.width}`).digest('hex') },
    decode: async (file) => String(file),
    extract: async (files) => ({ rows: files.map((f) => source.row(f)), grid: gridOf(o.regions), width: o.width }),
  };
}

/** Token states for every question without a text model: a row per real token, zero after them (as a text model gives). */
function randomStates(o: ScaleOptions) {
  const source = randomSource(o.maxTokens * o.textWidth, 2);
  return {
    record: { model: `random-states-${o.textWidth}`, file: 'none', sha256: createHash('sha256').update(`states ${o.textWidth}`).digest('hex') },
    states: async (questions: string[], maxTokens: number): Promise<EncodedQuestion[]> =>
      questions.map((question) => {
        const tokens = Math.min(maxTokens, question.split(' ').length + 2);
        const values = new Float32Array(maxTokens * o.textWidth);
        values.set(source.row(question).subarray(0, tokens * o.textWidth));
        return { values, tokens: new Array<string>(tokens).fill('') };
      }),
  };
}

function gridOf(regions: number): [number, number] {
  const side = Math.round(Math.sqrt(regions));
  return side * side === regions ? [side, side] : [1, regions];
}

async function openStores(split: LoadedSplit, cacheDir: string, o: ScaleOptions, progress: boolean) {
  const features = await openFeatureStore(split, randomRegions(o), {
    cacheDir,
    dtype: 'float16',
    grid: gridOf(o.regions),
    width: o.width,
    skipBad: false,
    chunk: 64,
    onProgress: progress ? progressReporter(`writing ${split.name} features`) : undefined,
  });
  const questions = await openTextStateStore(
    split.name,
    split.samples.map((s) => s.question),
    randomStates(o),
    { cacheDir, maxTokens: o.maxTokens, width: o.textWidth, onProgress: progress ? progressReporter(`writing ${split.name} token states`, 'questions') : undefined },
  );
  return { images: features.table, questions, from: features.from };
}

/** Builds what is missing of the set (files, then stores); every part is reused by later runs. */
async function build(o: ScaleOptions): Promise<string> {
  const dir = path.join(o.dir, setName(o));
  if (!fs.existsSync(path.join(dir, MANIFEST_FILE))) {
    const t0 = performance.now();
    writeFiles(dir, o);
    console.log(`wrote the question and annotation files in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const ds = loadDataset(dir);
  for (const name of ['train', 'val']) await openStores(loadSplit(ds, name), cacheDirOf(ds), o, true);
  return dir;
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;
const rssGib = () => process.memoryUsage().rss / GIB;

/** The measured run, in a process of its own so that building the set does not count in its peak RSS. */
async function measure(o: ScaleOptions, dir: string): Promise<void> {
  const backend = await selectBackend('wasm');
  let maxRss = rssGib();
  const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssGib())), 200);
  const t0 = performance.now();
  const ds = loadDataset(dir);
  const train = loadSplit(ds, 'train');
  const val = loadSplit(ds, 'val');
  const readSecs = seconds(t0);
  const rssAfterRead = rssGib();
  const cacheDir = cacheDirOf(ds);
  const t1 = performance.now();
  const trainInputs = await openStores(train, cacheDir, o, false);
  const valInputs = await openStores(val, cacheDir, o, false);
  const openSecs = seconds(t1);
  const answers = AnswerVocab.build(
    train.samples.map((s) => s.annotation!),
    o.answers,
  );
  const config = parseRunConfig(
    {
      model: {
        d: o.d,
        vision: { kind: 'pretrained', model: `random-regions-${o.regions}x${o.width}`, grid: gridOf(o.regions), width: o.width },
        language: { kind: 'pretrained', model: `random-states-${o.textWidth}`, maxTokens: o.maxTokens, width: o.textWidth },
        attention: { hidden: o.d, glimpses: 2, k: 5, o: o.d },
        fusion: { kind: 'mfb', k: 5, o: 1000 },
      },
      train: { batchSize: o.batch, answers: o.answers },
    },
    'bench scale',
  );
  const model = new VqaModel(config, QuestionTokenizer.fromVocabulary(['[PAD]', '[UNK]']).files, answers);
  const parameters = model.net.store.countTrainable();
  const batches = epochBatches(train.samples, o.batch, 2, 1, 0).slice(0, o.steps);
  // loading alone: the rows each step reads (features, token states, soft targets), no network
  const t2 = performance.now();
  for (const b of batches) batchArrays(b, trainInputs.images, trainInputs.questions, answers);
  const loadingSecs = seconds(t2);
  let loadingInSteps = 0;
  const tensorsBefore = tf.memory().numTensors;
  const runner = new LocalRunner(model, new Adam(model.net.store.trainable(), { betas: [0.9, 0.99], eps: 1e-9, clipNorm: 10 }), (samples) => {
    const t = performance.now();
    const arrays = batchArrays(samples, trainInputs.images, trainInputs.questions, answers);
    loadingInSteps += seconds(t);
    return arrays;
  });
  const t3 = performance.now();
  let lastLoss = 0;
  for (const [i, b] of batches.entries()) {
    lastLoss = (await runner.step(b, 1e-4, true)).loss;
    if ((i + 1) % 50 === 0) console.log(`  step ${i + 1}/${batches.length} · loss ${lastLoss.toFixed(3)} · RSS ${rssGib().toFixed(2)} GiB`);
  }
  const trainSecs = seconds(t3);
  await runner.dispose();
  const evalSamples = val.samples.slice(0, o.evalQuestions);
  const t4 = performance.now();
  const predictions = await predictAnswers(model, evalSamples, valInputs, 256);
  const evalSecs = seconds(t4);
  const report = scorePredictions(evalSamples, predictions);
  const tensorsLeaked = tf.memory().numTensors - tensorsBefore; // the optimizer's are disposed with it
  model.dispose();
  clearInterval(sampler);
  maxRss = Math.max(maxRss, rssGib());
  const peakRssGib = Math.max(maxRss, process.resourceUsage().maxRSS / 2 ** 20);

  const storeFiles = fs.readdirSync(cacheDir).filter((f) => f.endsWith('.bin'));
  const gibOf = (prefix: string) => storeFiles.filter((f) => f.startsWith(prefix)).reduce((s, f) => s + fs.statSync(path.join(cacheDir, f)).size, 0) / GIB;
  const stores = { trainFeaturesGib: gibOf('train-features-'), valFeaturesGib: gibOf('val-features-'), trainStatesGib: gibOf('train-text-'), valStatesGib: gibOf('val-text-') };
  const filesGib = ['train_questions.json', 'train_annotations.json'].reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0) / GIB;
  const trainQps = (batches.length * o.batch) / trainSecs;
  const loadingShare = loadingInSteps / trainSecs;
  console.log(`vqa bench scale · ${describeBackend(backend)}`);
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${(os.totalmem() / GIB).toFixed(0)} GiB, node ${process.versions.node}; set in ${dir}`);
  console.log(
    `set: train ${train.imageIds.length.toLocaleString('en')} images, ${train.samples.length.toLocaleString('en')} questions (files ${filesGib.toFixed(2)} GiB); val ${val.imageIds.length.toLocaleString('en')} images, ${val.samples.length.toLocaleString('en')} questions; ${answers.size} answers`,
  );
  console.log(
    `stores (float16): region features ${o.regions}×${o.width} train ${stores.trainFeaturesGib.toFixed(2)} GiB, val ${stores.valFeaturesGib.toFixed(2)} GiB · token states ${o.maxTokens}×${o.textWidth} train ${stores.trainStatesGib.toFixed(2)} GiB, val ${stores.valStatesGib.toFixed(2)} GiB`,
  );
  console.log(`read the question and annotation files: ${readSecs.toFixed(1)} s (RSS after: ${rssAfterRead.toFixed(2)} GiB)`);
  console.log(`open the four stores (train and val features and states): ${(openSecs * 1000).toFixed(0)} ms`);
  console.log(
    `training: ${batches.length} steps of ${o.batch} (d ${o.d}, MFB k 5 o 1000, ${parameters.toLocaleString('en')} parameters) · ${trainQps.toFixed(1)} questions/s · ${((1000 * trainSecs) / batches.length).toFixed(0)} ms/step · loss ${lastLoss.toFixed(3)}`,
  );
  console.log(
    `loading alone: ${((batches.length * o.batch) / loadingSecs).toFixed(0)} questions/s · within the steps ${(100 * loadingShare).toFixed(1)}% of step time (target ≤ ${100 * TARGETS.loadingShare}%)`,
  );
  console.log(
    `evaluation: ${evalSamples.length.toLocaleString('en')} val questions · ${(evalSamples.length / evalSecs).toFixed(0)} questions/s · accuracy ${report.overall} (random data: chance)`,
  );
  console.log(`peak RSS ${peakRssGib.toFixed(2)} GiB (target ≤ ${TARGETS.peakRssGb} GB at VQA v2 train size) · tensors leaked ${tensorsLeaked}`);
  console.log(
    JSON.stringify({
      images: o.images,
      questions: train.samples.length,
      ...stores,
      readSecs,
      openMs: openSecs * 1000,
      trainQps,
      loadingShare,
      evalQps: evalSamples.length / evalSecs,
      peakRssGib,
      tensorsLeaked,
    }),
  );
}

export async function scaleBench(o: ScaleOptions, measureOnly: boolean): Promise<void> {
  if (measureOnly) return measure(o, path.join(o.dir, setName(o)));
  const dir = await build(o);
  const args = process.argv.slice(2).concat('--measure-only');
  const child = fork(path.join(HERE, '..', 'bin', 'bench.js'), args, { stdio: 'inherit' });
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  if (code !== 0) throw new Error(`the measured run of ${dir} failed (exit ${code})`);
}
