import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { synthesize } from '../src/cli/synth.ts';
import { checkDataset } from '../src/data/check.ts';
import { decodeImage } from '../src/data/images.ts';
import { loadDataset } from '../src/data/manifest.ts';
import { loadSplit } from '../src/data/split.ts';
import { sortOfClevr } from '../src/data/synth/sort_of_clevr.ts';
import { styleOf } from '../src/data/synth/generators.ts';
import { SPEC_PIXELS_STYLE, SPEC_STYLE } from '../src/data/synth/types.ts';
import { tempDir } from './helpers.ts';

function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

describe('vqa data synth', () => {
  for (const kind of ['sort-of-clevr', 'clevr-lite'] as const) {
    it(`${kind}: same seed and sizes give byte-identical files; another seed does not`, async () => {
      const root = tempDir(kind);
      const opts = { kind, train: 12, val: 4, seed: 5, questionsPerImage: 10 };
      await synthesize({ ...opts, out: path.join(root, 'a') });
      await synthesize({ ...opts, out: path.join(root, 'b') });
      await synthesize({ ...opts, seed: 6, out: path.join(root, 'c') });
      const a = filesOf(path.join(root, 'a'));
      const b = filesOf(path.join(root, 'b'));
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
      for (const [name, content] of a) expect(content.equals(b.get(name)!), name).toBe(true);
      const c = filesOf(path.join(root, 'c'));
      expect(a.get('train/questions.json')!.equals(c.get('train/questions.json')!)).toBe(false);
      expect((await checkDataset(path.join(root, 'a'))).problems).toEqual([]);
    });
  }

  it('sort-of-clevr follows the benchmark: 75×75, 10 non-relational + 10 relational questions per image', async () => {
    const dir = path.join(tempDir('soc'), 'd');
    await synthesize({ kind: 'sort-of-clevr', out: dir, train: 20, val: 2, seed: 1, questionsPerImage: 10 });
    const ds = loadDataset(dir);
    const split = loadSplit(ds, 'train');
    expect(split.samples).toHaveLength(20 * 20);
    const groups = ds.manifest.questionGroups!;
    const types = split.samples.map((s) => s.annotation!.question_type);
    const nonRel = types.filter((t) => groups['non-relational']!.includes(t)).length;
    expect(nonRel).toBe(200);
    const img = await decodeImage(split.imagePath(1), 75);
    expect(img.length).toBe(75 * 75 * 3);
    // Six distinct colours are drawn on white: count pixels that are not white.
    let coloured = 0;
    for (let i = 0; i < img.length; i += 3) if (img[i]! + img[i + 1]! + img[i + 2]! < 750) coloured++;
    expect(coloured).toBeGreaterThan(6 * 50);
    const answers = new Set(split.samples.map((s) => s.annotation!.multiple_choice_answer));
    for (const a of answers) expect(['square', 'circle', 'left', 'right', 'top', 'bottom', '1', '2', '3', '4', '5', '6']).toContain(a);
  });

  it('clevr-lite balances answers within each yes/no family and covers all seven families', async () => {
    const dir = path.join(tempDir('cl'), 'd');
    await synthesize({ kind: 'clevr-lite', out: dir, train: 120, val: 2, seed: 2, questionsPerImage: 10 });
    const split = loadSplit(loadDataset(dir), 'train');
    const byFamily = new Map<string, Map<string, number>>();
    for (const s of split.samples) {
      const f = byFamily.get(s.annotation!.question_type) ?? new Map<string, number>();
      f.set(s.annotation!.multiple_choice_answer!, (f.get(s.annotation!.multiple_choice_answer!) ?? 0) + 1);
      byFamily.set(s.annotation!.question_type, f);
    }
    expect([...byFamily.keys()].sort()).toEqual(['compare attribute', 'compare count', 'count', 'exist', 'query attribute', 'spatial relation', 'two hop']);
    for (const family of ['exist', 'compare attribute', 'compare count', 'spatial relation']) {
      const counts = byFamily.get(family)!;
      expect(Math.abs((counts.get('yes') ?? 0) - (counts.get('no') ?? 0)), family).toBeLessThanOrEqual(2);
    }
    expect(split.samples.every((s) => s.annotation!.answers.length === 10)).toBe(true);
  });

  it("spec-pixels: the spec set's images byte for byte, asked in the training wordings, with a val-reworded split", async () => {
    const root = tempDir('spec-pixels');
    const opts = { kind: 'clevr-lite', train: 20, val: 4, seed: 3, questionsPerImage: 10 } as const;
    await synthesize({ ...opts, style: 'spec', out: path.join(root, 'spec') });
    await synthesize({ ...opts, style: 'spec-pixels', out: path.join(root, 'pixels') });
    const spec = filesOf(path.join(root, 'spec'));
    const pixels = filesOf(path.join(root, 'pixels'));
    const images = [...spec.keys()].filter((f) => f.includes('images'));
    expect(images.length).toBe(24);
    for (const f of images) expect(pixels.get(f)?.equals(spec.get(f)!), f).toBe(true);
    const ds = loadDataset(path.join(root, 'pixels'));
    expect(ds.manifest.generator?.style).toBe('spec-pixels');
    expect(styleOf(ds.manifest.generator)).toEqual(SPEC_PIXELS_STYLE);
    expect(SPEC_PIXELS_STYLE.look).toBe(SPEC_STYLE.look);
    const questions = (dir: string, split: string) => new Set(loadSplit(loadDataset(path.join(root, dir)), split).samples.map((s) => s.question));
    const specQuestions = questions('spec', 'train');
    const reworded = [...questions('pixels', 'train')].filter((q) => !specQuestions.has(q));
    expect(reworded.length).toBeGreaterThan(100);
    expect(questions('pixels', 'val-reworded').size).toBeGreaterThan(20);
    expect(fs.existsSync(path.join(root, 'spec', 'val-reworded'))).toBe(false);
    expect(styleOf({ kind: 'clevr-lite' })).toBe(SPEC_STYLE); // sets from before styles
    expect(() => styleOf({ kind: 'clevr-lite', style: 'spec-pixel' })).toThrow('dataset.json generator.style: style "spec-pixel" is not one of spec, random, spec-pixels');
    await expect(synthesize({ ...opts, style: 'nope' as 'spec', out: path.join(root, 'nope') })).rejects.toThrow('data synth: style "nope" is not one of');
  });

  it('refuses to overwrite an existing data set', async () => {
    const dir = path.join(tempDir('ow'), 'd');
    await synthesize({ kind: 'clevr-lite', out: dir, train: 2, val: 1, seed: 1, questionsPerImage: 3 });
    await expect(synthesize({ kind: 'clevr-lite', out: dir, train: 2, val: 1, seed: 1, questionsPerImage: 3 })).rejects.toThrow(/already holds a data set/);
  });
});

describe('Sort-of-CLEVR follows the published benchmark', () => {
  const PURE: Record<string, [number, number, number]> = {
    red: [255, 0, 0],
    green: [0, 255, 0],
    blue: [0, 0, 255],
    orange: [255, 156, 0],
    gray: [128, 128, 128],
    yellow: [255, 255, 0],
  };
  const gen = sortOfClevr(3, 75, SPEC_STYLE);

  it('75×75 on white, six pure colours, 11×11 squares and radius-5 circles at integer centres in [5, 69], at least 10 px apart', () => {
    let unoccluded = 0;
    for (let index = 0; index < 40; index++) {
      const { pixels, questions } = gen.generate(index, 'train');
      expect(pixels.length).toBe(75 * 75 * 3);
      const found = new Map<string, { xs: number[]; ys: number[] }>();
      for (let p = 0; p < 75 * 75; p++) {
        const rgb = [pixels[3 * p]!, pixels[3 * p + 1]!, pixels[3 * p + 2]!];
        if (rgb.every((v) => v === 255)) continue;
        const name = Object.keys(PURE).find((k) => PURE[k]!.every((v, i) => v === rgb[i]));
        expect(name, `pixel ${p} of image ${index} is ${rgb}`).toBeDefined();
        const entry = found.get(name!) ?? { xs: [], ys: [] };
        entry.xs.push(p % 75);
        entry.ys.push(Math.floor(p / 75));
        found.set(name!, entry);
      }
      expect([...found.keys()].sort()).toEqual(Object.keys(PURE).sort());
      const centres: [number, number][] = [];
      const shapes = new Map<string, string>();
      for (const [colour, { xs, ys }] of found) {
        const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
        // An object drawn later may cover one edge row of one exactly 10 px away: judge unoccluded ones only.
        if (xs.length !== 121 && xs.length !== 81) continue;
        unoccluded++;
        expect([x1 - x0, y1 - y0], colour).toEqual([10, 10]);
        const [cx, cy] = [(x0 + x1) / 2, (y0 + y1) / 2];
        expect(cx >= 5 && cx <= 69 && cy >= 5 && cy <= 69).toBe(true);
        centres.push([cx, cy]);
        shapes.set(colour, xs.length === 121 ? 'square' : 'circle');
        for (const q of questions) {
          if (q.question === `What is the shape of the ${colour} object?`) expect(q.answer).toBe(shapes.get(colour));
          if (q.question === `Is the ${colour} object on the left or on the right of the image?`) expect(q.answer).toBe(cx < 37.5 ? 'left' : 'right');
          if (q.question === `Is the ${colour} object at the top or at the bottom of the image?`) expect(q.answer).toBe(cy < 37.5 ? 'top' : 'bottom');
        }
      }
      for (const [i, a] of centres.entries()) for (const b of centres.slice(i + 1)) expect(Math.hypot(a[0] - b[0], a[1] - b[1])).toBeGreaterThanOrEqual(10);
      expect(questions).toHaveLength(20);
    }
    expect(unoccluded).toBeGreaterThan(200);
  });
});
