import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.ts';
import { checkDataset } from '../src/data/check.ts';
import { decodeImage, type ImageTable } from '../src/data/images.ts';
import { openPackedStore } from '../src/data/packed_store.ts';
import { openImageStore } from '../src/data/image_store.ts';
import { loadDataset } from '../src/data/manifest.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { openSplitInputs } from '../src/inputs/split_inputs.ts';
import { loadSplit } from '../src/data/split.ts';
import { predictAnswers } from '../src/eval/evaluate.ts';
import { scoreResultsFile } from '../src/eval/score_files.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import { train } from '../src/train/train.ts';
import { tempDir, tinyConfig, useWasm } from './helpers.ts';

// A small VQA v2 set laid out like the official download: COCO file names, official JSON files,
// JPEG and PNG content, one RGBA, one greyscale, one EXIF-rotated and one corrupt image.
let root: string;
const RED = { r: 255, g: 0, b: 0 };
const BLUE = { r: 0, g: 0, b: 255 };

async function halves(top: typeof RED, bottom: typeof RED, w: number, h: number): Promise<sharp.Sharp> {
  const half = await sharp({ create: { width: w, height: h / 2, channels: 3, background: bottom } })
    .png()
    .toBuffer();
  return sharp({ create: { width: w, height: h, channels: 3, background: top } }).composite([{ input: half, top: h / 2, left: 0 }]);
}

async function writeImages(dir: string, prefix: string, ids: number[]): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const name = (id: number) => path.join(dir, `${prefix}${String(id).padStart(12, '0')}.jpg`);
  for (const id of ids) {
    const colour = { r: (id * 40) % 256, g: (id * 90) % 256, b: (id * 150) % 256 };
    let img: Buffer;
    if (id === 2)
      img = await sharp({ create: { width: 30, height: 20, channels: 3, background: colour } })
        .greyscale()
        .png()
        .toBuffer();
    else if (id === 3)
      img = await sharp({ create: { width: 20, height: 20, channels: 4, background: { ...colour, alpha: 0 } } })
        .png()
        .toBuffer();
    else if (id === 4) {
      // stored sideways: red on the left, blue on the right; EXIF orientation 6 turns it 90° clockwise
      const upright = await (await halves(RED, BLUE, 40, 40)).png().toBuffer();
      img = await sharp(upright).rotate(-90).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    } else if (id === 5) img = Buffer.from('this is not an image');
    else
      img = await sharp({ create: { width: 32, height: 24, channels: 3, background: colour } })
        .jpeg()
        .toBuffer();
    fs.writeFileSync(name(id), img);
  }
}

function officialFiles(dir: string, subtype: string, ids: number[], annotated: boolean): void {
  const questions = ids.flatMap((id) =>
    [0, 1, 2].map((j) => ({ image_id: id, question: j === 0 ? 'What color is it?' : j === 1 ? 'How many things?' : 'Is it red?', question_id: id * 10 + j })),
  );
  const header = { info: {}, task_type: 'Open-Ended', data_type: 'mscoco', data_subtype: subtype, license: {} };
  fs.mkdirSync(path.join(dir, 'questions'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'questions', `v2_OpenEnded_mscoco_${subtype}_questions.json`), JSON.stringify({ ...header, questions }));
  if (!annotated) return;
  const answerFor = (q: { question_id: number; image_id: number }) => (q.question_id % 10 === 0 ? (q.image_id % 2 ? 'red' : 'Blue') : q.question_id % 10 === 1 ? 'two' : 'yes');
  const annotations = questions.map((q) => ({
    question_id: q.question_id,
    image_id: q.image_id,
    question_type: ['what color is the', 'how many', 'is the'][q.question_id % 10]!,
    answer_type: ['other', 'number', 'yes/no'][q.question_id % 10]!,
    multiple_choice_answer: answerFor(q),
    answers: Array.from({ length: 10 }, (_, i) => ({ answer: i < 8 ? answerFor(q) : 'no idea', answer_confidence: 'yes', answer_id: i + 1 })),
  }));
  fs.mkdirSync(path.join(dir, 'annotations'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'annotations', `v2_mscoco_${subtype}_annotations.json`), JSON.stringify({ ...header, annotations }));
}

beforeAll(async () => {
  await useWasm();
  root = path.join(tempDir('vqa2'), 'vqa-v2');
  const train = Array.from({ length: 12 }, (_, i) => i + 1);
  const val = [101, 102, 103, 104];
  await writeImages(path.join(root, 'train2014'), 'COCO_train2014_', train);
  await writeImages(path.join(root, 'val2014'), 'COCO_val2014_', val);
  await writeImages(path.join(root, 'test2015'), 'COCO_test2015_', [201, 202]);
  officialFiles(root, 'train2014', train, true);
  officialFiles(root, 'val2014', val, true);
  officialFiles(root, 'test2015', [201, 202], false);
  const split = (sub: string, prefix: string, annotated: boolean) => ({
    questions: `questions/v2_OpenEnded_mscoco_${sub}_questions.json`,
    ...(annotated ? { annotations: `annotations/v2_mscoco_${sub}_annotations.json` } : {}),
    images: sub,
    imageFile: `${prefix}{image_id:012}.jpg`,
  });
  const manifest = {
    name: 'vqa-v2-fixture',
    version: 1,
    splits: { train: split('train2014', 'COCO_train2014_', true), val: split('val2014', 'COCO_val2014_', true), test: split('test2015', 'COCO_test2015_', false) },
  };
  fs.writeFileSync(path.join(root, 'dataset.json'), JSON.stringify(manifest, null, 2));
});

describe('VQA v2 files in', () => {
  it('reads the official layout: zero-padded COCO names, a split without annotations, a subset by image id', async () => {
    const ds = loadDataset(root);
    // the fixture's deliberately corrupt image (the --skip-bad test below) is the one problem
    expect((await checkDataset(root)).problems).toEqual([
      expect.stringMatching(/train2014: 1 image file\(s\) cannot be used, e\.g\. .*COCO_train2014_000000000005\.jpg \(does not decode/),
    ]);
    const train = loadSplit(ds, 'train');
    expect(train.imagePath(7)).toBe(path.join(root, 'train2014', 'COCO_train2014_000000000007.jpg'));
    const subset = loadSplit(ds, 'train', 3);
    expect(subset.imageIds).toEqual([1, 2, 3]);
    expect(subset.samples).toHaveLength(9);
    const test = loadSplit(ds, 'test');
    expect(test.samples.every((s) => s.annotation === undefined)).toBe(true);
  });

  it('decodes EXIF-rotated, RGBA and greyscale images to upright sRGB', async () => {
    const px = (img: Uint8Array, size: number, x: number, y: number) => Array.from(img.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));
    const rotated = await decodeImage(path.join(root, 'train2014', 'COCO_train2014_000000000004.jpg'), 32);
    const [tr, , tb] = px(rotated, 32, 16, 2);
    const [br, , bb] = px(rotated, 32, 16, 29);
    expect(tr).toBeGreaterThan(200); // red on top once the EXIF rotation is applied
    expect(tb).toBeLessThan(60);
    expect(bb).toBeGreaterThan(200);
    expect(br).toBeLessThan(60);
    const rgba = await decodeImage(path.join(root, 'train2014', 'COCO_train2014_000000000003.jpg'), 8);
    expect(px(rgba, 8, 4, 4)).toEqual([255, 255, 255]); // transparent pixels flattened onto white
    const grey = await decodeImage(path.join(root, 'train2014', 'COCO_train2014_000000000002.jpg'), 8);
    const [r, g, b] = px(grey, 8, 4, 4);
    expect(r).toBe(g);
    expect(g).toBe(b);
  });

  it('stops at a corrupt image naming the file, or skips it with its questions and lists it', async () => {
    const ds = loadDataset(root);
    const model = new VqaModel(tinyConfig({ model: { imageSize: 16 } }), QuestionTokenizer.build(['what']).files, new AnswerVocab(['yes', 'no']));
    await expect(openSplitInputs(model, {}, ds, 'train', { skipBad: false })).rejects.toThrow(/COCO_train2014_000000000005\.jpg: cannot read image/);
    const { split, bad } = await openSplitInputs(model, {}, ds, 'train', { skipBad: true });
    model.dispose();
    expect(bad.map((b) => b.imageId)).toEqual([5]);
    expect(split.samples.some((s) => s.imageId === 5)).toBe(false);
    expect(split.samples).toHaveLength(33);
  });
});

describe('a store larger than Node can read whole', () => {
  it('opens a 2.26 GB store at once and reads its rows by position, with little memory', async () => {
    const cacheDir = tempDir('big-store');
    const rowBytes = 224 * 224 * 3;
    const ids = Array.from({ length: 15_000 }, (_, i) => i + 1);
    const bin = path.join(cacheDir, 'train-224px.bin');
    // a sparse file: 2.26 GB long (readFileSync refuses files over 2 GiB), only two rows written
    fs.closeSync(fs.openSync(bin, 'w'));
    fs.truncateSync(bin, ids.length * rowBytes);
    const fd = fs.openSync(bin, 'r+');
    fs.writeSync(fd, new Uint8Array(rowBytes).fill(7), 0, rowBytes, 0);
    fs.writeSync(fd, new Uint8Array(rowBytes).fill(200), 0, rowBytes, (ids.length - 1) * rowBytes);
    fs.closeSync(fd);
    fs.writeFileSync(path.join(cacheDir, 'train-224px.json'), JSON.stringify({ version: 1, rowBytes, fingerprint: 'f', ids, bad: [] }));
    const before = process.memoryUsage().rss;
    const spec = {
      cacheDir,
      name: 'train-224px',
      fingerprint: 'f',
      ids,
      rowBytes,
      makeRows: () => Promise.reject(new Error('complete: nothing to build')),
      fileOf: String,
      skipBad: false,
    };
    const store = await openPackedStore(spec);
    expect(store.from).toBe('store');
    expect(store.rows.read(ids.length - 1).every((b) => b === 200)).toBe(true);
    expect(store.rows.read(0).every((b) => b === 7)).toBe(true);
    expect(store.rows.read(7_500).every((b) => b === 0)).toBe(true);
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 2 ** 20);
    expect(() => store.rows.read(ids.length)).toThrow(`row ${ids.length} of ${ids.length}`);
  });
});

describe('packed image store', () => {
  it('is built once, read back identically, rebuilt when a source changes, and resumes after an interruption', async () => {
    const ds = loadDataset(root);
    const split = loadSplit(ds, 'val');
    const cacheDir = tempDir('store');
    const first = await openImageStore(split, { cacheDir, size: 16, skipBad: false });
    const second = await openImageStore(split, { cacheDir, size: 16, skipBad: false });
    expect([first.from, second.from]).toEqual(['built', 'store']);
    expect(allRows(second.table).equals(allRows(first.table))).toBe(true);
    expect(Buffer.from(second.table.row(103)).equals(Buffer.from(await decodeImage(split.imagePath(103), 16)))).toBe(true);

    const later = new Date(Date.now() + 5000);
    fs.utimesSync(split.imagePath(102), later, later);
    expect((await openImageStore(split, { cacheDir, size: 16, skipBad: false })).from).toBe('built');

    // Interrupt a fresh build after its first chunk; the partial store is not taken as complete,
    // and the next build starts from where it stopped.
    const other = tempDir('store2');
    await expect(
      openImageStore(split, {
        cacheDir: other,
        size: 16,
        skipBad: false,
        chunk: 2,
        onProgress: (done) => {
          if (done === 2) throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    expect(fs.existsSync(path.join(other, 'val-16px.json'))).toBe(false);
    const seen: number[] = [];
    const resumed = await openImageStore(split, { cacheDir: other, size: 16, skipBad: false, chunk: 2, onProgress: (done) => seen.push(done) });
    expect(seen[0]).toBe(2);
    expect(resumed.from).toBe('built');
    expect(allRows(resumed.table).equals(allRows((await openImageStore(split, { cacheDir, size: 16, skipBad: false })).table))).toBe(true);
  });
});

describe('training through the VQA v2 manifest', () => {
  it('trains on a subset with --skip-bad, predicts the unannotated split, and scores an official results file', async () => {
    const out = path.join(tempDir('v2run'), 'run');
    const backend = await selectBackend('wasm');
    const { model, history } = await train({
      dataDir: root,
      outDir: out,
      config: tinyConfig({ train: { epochs: 3 } }),
      backend,
      resume: false,
      subset: 10,
      skipBad: true,
      log: () => {},
    });
    expect(history[2]!.loss).toBeLessThan(history[0]!.loss);
    expect(model.answers.answers).toContain('2'); // "two" normalised officially to "2" in the vocabulary
    model.dispose();

    const { model: loaded } = VqaModel.load(out);
    const ds = loadDataset(root);
    const test = await openSplitInputs(loaded, {}, ds, 'test', { skipBad: false });
    const testPreds = await predictAnswers(loaded, test.split.samples, test, 8);
    expect(testPreds.size).toBe(6);
    const val = await openSplitInputs(loaded, {}, ds, 'val', { skipBad: false });
    const preds = await predictAnswers(loaded, val.split.samples, val, 8);
    loaded.dispose();
    const resultsFile = path.join(out, 'val-results.json');
    fs.writeFileSync(resultsFile, JSON.stringify([...preds].map(([question_id, answer]) => ({ question_id, answer }))));
    const files = ds.manifest.splits.val!;
    const scored = scoreResultsFile(path.join(root, files.questions), path.join(root, files.annotations!), resultsFile, 'official');
    expect(Object.keys(scored.perQuestion)).toHaveLength(12);
    expect(scored.report.overall).toBeGreaterThanOrEqual(0);
    expect(Object.keys(scored.report.perAnswerType).sort()).toEqual(['number', 'other', 'yes/no']);
  });
});

describe('packed image store under concurrency', () => {
  it('lets two builders of the same store wait for each other instead of racing', async () => {
    const split = loadSplit(loadDataset(root), 'val');
    const cacheDir = tempDir('store-race');
    const [a, b] = await Promise.all([
      openImageStore(split, { cacheDir, size: 12, skipBad: false, chunk: 1 }),
      openImageStore(split, { cacheDir, size: 12, skipBad: false, chunk: 1 }),
    ]);
    expect([a.from, b.from].sort()).toEqual(['built', 'store']);
    expect(allRows(a.table).equals(allRows(b.table))).toBe(true);
    expect(fs.readdirSync(cacheDir).sort()).toEqual(['val-12px.bin', 'val-12px.json']);
  });
});

/** Every row of an image table, in order, as one buffer. */
function allRows(table: ImageTable): Buffer {
  return Buffer.concat(table.imageIds.map((id) => table.row(id)));
}
