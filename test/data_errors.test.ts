import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { synthesize } from '../src/cli/synth.ts';
import { checkDataset } from '../src/data/check.ts';
import { ALLOW_OUTSIDE_PATHS, loadDataset } from '../src/data/manifest.ts';
import { loadSplit } from '../src/data/split.ts';
import { openImageStore } from '../src/data/image_store.ts';
import { cacheDirOf } from '../src/data/prepare.ts';
import { vocabularySize } from '../src/language/tokenizer_files.ts';
import { writeFolderAtomically } from '../src/model/checkpoint.ts';
import { makeDirectory } from '../src/util/make_dir.ts';
import { tempDir } from './helpers.ts';
import sharp from 'sharp';
import { checkImageSize } from '../src/infer/prepare.ts';
import { decoderMessage } from '../src/util/decoder_message.ts';

// Bad data files: each is one message naming the file and field, before anything is trained.
let pristine: string;

beforeAll(async () => {
  pristine = path.join(tempDir('bad-data'), 'set');
  await synthesize({ kind: 'shape-colours', out: pristine, train: 6, val: 3, seed: 2, questionsPerImage: 0 });
});

/** A copy of the pristine set with `change` applied to it. */
function variant(change: (dir: string) => void): string {
  const dir = path.join(tempDir('bad-data'), 'set');
  fs.cpSync(pristine, dir, { recursive: true });
  change(dir);
  return dir;
}

function editJson(file: string, edit: (json: Record<string, unknown[]>) => void): void {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(json);
  fs.writeFileSync(file, JSON.stringify(json));
}

describe('bad data files', () => {
  it('an annotation with 9 answers is refused, naming the file and field', () => {
    const dir = variant((d) => editJson(path.join(d, 'train/annotations.json'), (j) => void (j.annotations[0] as { answers: unknown[] }).answers.pop()));
    expect(() => loadSplit(loadDataset(dir), 'train')).toThrow(
      /train\/annotations\.json: not in the VQA v2 format\n {2}field 'annotations\.0\.answers': must hold exactly 10 answers/,
    );
  });

  it('a question_id that occurs twice is refused, in questions and in annotations', () => {
    const dir = variant((d) => editJson(path.join(d, 'train/questions.json'), (j) => void j.questions.push(j.questions[0])));
    expect(() => loadSplit(loadDataset(dir), 'train')).toThrow(/train\/questions\.json: field 'questions\[\]\.question_id': 1 id\(s\) occur more than once, e\.g\. 1000/);
  });

  it('an empty split is refused', () => {
    const dir = variant((d) => {
      editJson(path.join(d, 'val/questions.json'), (j) => void (j.questions = []));
      editJson(path.join(d, 'val/annotations.json'), (j) => void (j.annotations = []));
    });
    expect(() => loadSplit(loadDataset(dir), 'val')).toThrow(/val\/questions\.json: field 'questions' is empty/);
  });

  it('paths that leave the data folder are refused unless --allow-outside-paths', () => {
    const dir = variant((d) =>
      editJson(path.join(d, 'dataset.json'), (j) => void ((j.splits as unknown as Record<string, { questions: string }>).train.questions = '../../etc/passwd')),
    );
    expect(() => loadDataset(dir)).toThrow(/field 'splits\.train\.questions' \(\.\.\/\.\.\/etc\/passwd\) leaves the data folder; pass --allow-outside-paths/);
    process.env[ALLOW_OUTSIDE_PATHS] = '1';
    try {
      expect(loadDataset(dir).manifest.splits.train!.questions).toBe('../../etc/passwd');
    } finally {
      delete process.env[ALLOW_OUTSIDE_PATHS];
    }
  });

  it('vqa data check decodes every image: a truncated one, a text file named .png and a symlink loop are named', async () => {
    const dir = variant((d) => {
      const images = path.join(d, 'train/images');
      fs.writeFileSync(path.join(images, '1.png'), fs.readFileSync(path.join(images, '1.png')).subarray(0, 40));
      fs.writeFileSync(path.join(images, '2.png'), 'just text');
      fs.rmSync(path.join(images, '3.png'));
      fs.symlinkSync('3.png', path.join(images, '3.png'));
    });
    const { problems } = await checkDataset(dir);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/train\/images: 3 image file\(s\) cannot be used/);
    expect(problems[0]).toMatch(/1\.png \(does not decode/);
    expect(problems[0]).toMatch(/2\.png \(does not decode/);
    expect(problems[0]).toMatch(/3\.png \(a loop of symbolic links\)/);
    expect((await checkDataset(pristine)).problems).toEqual([]);
  });

  it('vqa data check finds what vqa train refuses: a repeated annotation id, bytes that are not UTF-8, a question of megabytes', async () => {
    const twice = variant((d) => editJson(path.join(d, 'train/annotations.json'), (j) => void j.annotations.push(j.annotations[0])));
    expect((await checkDataset(twice)).problems).toContain(`${path.join(twice, 'train/annotations.json')}: field 'annotations[].question_id': duplicated ids 1 (e.g. 1000)`);
    expect(() => loadSplit(loadDataset(twice), 'train')).toThrow(/field 'annotations\[\]\.question_id': 1 id\(s\) occur more than once/);

    const latin1 = variant((d) => {
      const file = path.join(d, 'train/questions.json');
      const text = fs.readFileSync(file, 'utf8').replace('"questions":', '\n"questions":');
      fs.writeFileSync(file, Buffer.concat([Buffer.from(text.replace('What', 'Wh\u00e4t'), 'latin1')]));
    });
    const latin1File = path.join(latin1, 'train/questions.json');
    expect((await checkDataset(latin1)).problems).toEqual([`${latin1File}:2: not valid UTF-8 text (JSON files must be UTF-8)`]);
    expect(() => loadSplit(loadDataset(latin1), 'train')).toThrow(`${latin1File}:2: not valid UTF-8 text`);

    const huge = variant((d) => editJson(path.join(d, 'train/questions.json'), (j) => void ((j.questions[0] as { question: string }).question = 'is it red '.repeat(530_000))));
    const hugeProblem = /train\/questions\.json: not in the VQA v2 format\n {2}field 'questions\.0\.question': is longer than 1000 characters/;
    expect((await checkDataset(huge)).problems.join('\n')).toMatch(hugeProblem);
    expect(() => loadSplit(loadDataset(huge), 'train')).toThrow(hugeProblem);
  });

  it('an output folder on a read-only file system says so (Node reports ENOENT for a recursive mkdir there)', () => {
    const out = path.join(tempDir('ro'), 'mount', 'run');
    const real = fs.mkdirSync;
    // a read-only mount at 'mount' as Node sees it: recursive mkdir fails ENOENT, a single one EROFS
    const spy = vi.spyOn(fs, 'mkdirSync').mockImplementation(((dir: fs.PathLike, options?: fs.MakeDirectoryOptions) => {
      if (!String(dir).includes(`${path.sep}mount`)) return real(dir, options);
      throw Object.assign(new Error(`${options?.recursive ? 'ENOENT: no such file or directory' : 'EROFS: read-only file system'}, mkdir '${dir}'`), {
        code: options?.recursive ? 'ENOENT' : 'EROFS',
      });
    }) as typeof fs.mkdirSync);
    try {
      expect(() => makeDirectory(out)).toThrow(`${out}: cannot create the folder (EROFS: a read-only file system)`);
      expect(() => writeFolderAtomically(out, { 'a.txt': 'x' })).toThrow(
        `${out}.tmp: could not write (${out}.tmp: cannot create the folder (EROFS: a read-only file system)); nothing was saved`,
      );
    } finally {
      spy.mockRestore();
    }
    makeDirectory(out);
    expect(fs.statSync(out).isDirectory()).toBe(true);
  });

  it('a packed store carries the sha256 of its rows, and vqa data check names a store whose rows changed', async () => {
    const dir = variant(() => {});
    const ds = loadDataset(dir);
    await openImageStore(loadSplit(ds, 'train'), { cacheDir: cacheDirOf(ds), size: 16, skipBad: false });
    const bin = path.join(cacheDirOf(ds), 'train-16px.bin');
    expect(JSON.parse(fs.readFileSync(bin.replace(/\.bin$/, '.json'), 'utf8')).sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await checkDataset(dir)).problems).toEqual([]);
    const bytes = fs.readFileSync(bin);
    bytes[100] = (bytes[100]! + 1) & 255;
    fs.writeFileSync(bin, bytes);
    expect((await checkDataset(dir)).problems).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${bin.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: corrupt \\(its sha256 is [0-9a-f]{12}…, train-16px\\.json says [0-9a-f]{12}…\\); delete it and its index to rebuild$`,
        ),
      ),
    ]);
  });

  it('a missing annotations file is that one problem, not also "no annotation for question_id …"', async () => {
    const dir = variant((d) => fs.rmSync(path.join(d, 'train/annotations.json')));
    const { problems } = await checkDataset(dir);
    expect(problems).toEqual([`${path.join(dir, 'train/annotations.json')}: file not found`]);
  });

  it('the vocabulary size of a tokenizer with 200,000 words does not overflow the stack', () => {
    const vocab = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`w${i}`, i]));
    expect(vocabularySize({ tokenizer: { model: { vocab } }, config: {} } as unknown as Parameters<typeof vocabularySize>[0])).toBe(200_000);
  });
});

describe('decoder messages', () => {
  it('gives one line naming the cause for a damaged HEIF (libvips writes dozens of retry lines first), and a reason where the decoder gives none', async () => {
    const heic = Buffer.concat([Buffer.from('\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic', 'latin1'), Buffer.alloc(40, 1)]);
    const raw = await sharp(heic)
      .metadata()
      .catch((e: Error) => e);
    expect((raw as Error).message).toContain('bad seek'); // what the decoder says
    const err = await checkImageSize(heic, 1e6).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^the image could not be read \(Input buffer has corrupt header: heif: .*Insufficient input data.*\)$/);
    expect((err as Error).message).not.toMatch(/bad seek|\n/);
    expect(decoderMessage(new Error(''))).toBe('the decoder gave no reason: not an image in a format it reads, or a damaged one');
    expect(decoderMessage(new Error('Unknown error'))).toBe(decoderMessage(new Error('')));
  });
});
