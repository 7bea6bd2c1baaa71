import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { degrade, type Degradation } from '../data/synth/degrade.ts';
import { generator, type SynthKind } from '../data/synth/generators.ts';
import { SPEC_LOOK } from '../data/synth/look.ts';
import { imageRng } from '../data/synth/seed.ts';
import { SPEC_STYLE, type GeneratedQuestion, type SceneStyle } from '../data/synth/types.ts';
import { answerPrepared } from '../infer/answer.ts';
import { BadInputError, type InputPreparer, type PreparedQuestion } from '../infer/prepare.ts';
import type { Predictor } from '../infer/predictor.ts';
import { vqaAccuracy } from './accuracy.ts';
import { expectedCalibrationError } from './calibration.ts';

/**
 * The same val scenes drawn and worded in other ways (issue "Answers that hold up"): each variant
 * changes one thing against the generator's published style ("clean").
 */
export interface Variant {
  name: string;
  style: SceneStyle;
  /** applied after drawing, to every image */
  degradation?: Degradation;
}

const look = (changes: Partial<SceneStyle['look']>): SceneStyle => ({ ...SPEC_STYLE, look: { ...SPEC_LOOK, ...changes } });

export const VARIANTS: Variant[] = [
  { name: 'clean', style: SPEC_STYLE },
  { name: 'anti-aliased edges', style: look({ antialias: 1 }) },
  { name: 'JPEG quality 50', style: SPEC_STYLE, degradation: { jpeg: 50 } },
  { name: 'JPEG quality 75', style: SPEC_STYLE, degradation: { jpeg: 75 } },
  { name: 'JPEG quality 95', style: SPEC_STYLE, degradation: { jpeg: 95 } },
  { name: 'stored at 0.5× (resized back)', style: SPEC_STYLE, degradation: { scale: 0.5 } },
  { name: 'stored at 2× (resized back)', style: SPEC_STYLE, degradation: { scale: 2 } },
  { name: 'blurred (σ 1 px)', style: SPEC_STYLE, degradation: { blur: 1 } },
  { name: 'background of another colour', style: look({ otherBackground: 1 }) },
  { name: 'shades 60–100% ± 20', style: look({ shade: [0.6, 1], jitter: 20 }) },
  { name: 'pixel noise σ 5', style: SPEC_STYLE, degradation: { noise: 5 } },
  { name: 'object sizes ± 25%', style: look({ size: [0.75, 1.25] }) },
  { name: 'overlapping objects', style: { ...SPEC_STYLE, overlap: 1 } },
  { name: 'fewer objects', style: { ...SPEC_STYLE, fewerObjects: 1 } },
  { name: 'held-out wordings', style: { ...SPEC_STYLE, wordings: 'held-out' } },
];

export interface VariantResult {
  name: string;
  questions: number;
  overall: number;
  perType: Record<string, number>;
  /** expected calibration error of the top answers' scores, % */
  ece: number;
  /** share of images flagged out of distribution, % */
  flagged: number;
  /** share of questions with a word training never saw, % */
  unknownWords: number;
}

export interface GeneratorSpec {
  kind: SynthKind;
  seed: number;
  imageSize: number;
  questionsPerImage: number;
}

interface Asked {
  image: Buffer;
  question: GeneratedQuestion;
}

async function* scenes(spec: GeneratorSpec, variant: Variant, images: number): AsyncGenerator<Asked[]> {
  const gen = generator(spec.kind, spec.seed, spec.imageSize, spec.questionsPerImage, variant.style);
  for (let i = 0; i < images; i++) {
    const img = gen.generate(i, 'val');
    const pixels = variant.degradation ? await degrade(img.pixels, spec.imageSize, variant.degradation, imageRng(0x6e6f6973, 'val', i)) : img.pixels;
    const png = await sharp(pixels, { raw: { width: spec.imageSize, height: spec.imageSize, channels: 3 } })
      .png()
      .toBuffer();
    yield img.questions.map((question) => ({ image: png, question }));
  }
}

/** Generated questions have one answer, given by all ten annotators as in the data files. */
const TEN_ANNOTATORS = Array.from({ length: 10 });

const percent = (x: number) => Math.round(10000 * x) / 100;

/** Answers `images` val scenes of the model's generator drawn as `variant`, in batches of up to 64 questions. */
export async function scoreVariant(predictor: Predictor, preparer: InputPreparer, spec: GeneratorSpec, variant: Variant, images: number): Promise<VariantResult> {
  const byType = new Map<string, number[]>();
  const scored: { confidence: number; accuracy: number }[] = [];
  let flagged = 0;
  let imagesSeen = 0;
  let unknown = 0;
  let pending: { prepared: PreparedQuestion; question: GeneratedQuestion; firstOfImage: boolean }[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const answers = await answerPrepared(
      predictor,
      pending.map((p) => p.prepared),
    );
    answers.forEach((a, i) => {
      const q = pending[i]!.question;
      const accuracy = vqaAccuracy(
        a.answers[0]!.answer,
        TEN_ANNOTATORS.map(() => q.answer),
      );
      scored.push({ confidence: a.answers[0]!.score, accuracy });
      byType.set(q.questionType, [...(byType.get(q.questionType) ?? []), accuracy]);
      if (a.unknown_words.length > 0) unknown++;
      if (pending[i]!.firstOfImage && a.out_of_distribution) flagged++;
    });
    pending = [];
  };
  for await (const asked of scenes(spec, variant, images)) {
    imagesSeen++;
    let first = true;
    for (const { image, question } of asked) {
      let prepared: PreparedQuestion;
      try {
        prepared = await preparer.prepare(image, question.question, 1);
      } catch (err) {
        if (!(err instanceof BadInputError)) throw err;
        // A question the model refuses (too long, no known word) counts as wrong.
        scored.push({ confidence: 0, accuracy: 0 });
        byType.set(question.questionType, [...(byType.get(question.questionType) ?? []), 0]);
        continue;
      }
      pending.push({ prepared, question, firstOfImage: first });
      first = false;
      if (pending.length >= 64) await flush();
    }
  }
  await flush();
  const perType = Object.fromEntries([...byType].sort(([a], [b]) => (a < b ? -1 : 1)).map(([t, xs]) => [t, percent(xs.reduce((a, b) => a + b, 0) / xs.length)]));
  return {
    name: variant.name,
    questions: scored.length,
    overall: percent(scored.reduce((a, s) => a + s.accuracy, 0) / scored.length),
    perType,
    ece: percent(expectedCalibrationError(scored)),
    flagged: percent(flagged / imagesSeen),
    unknownWords: percent(unknown / scored.length),
  };
}

/** Share of the images in a folder (and its subfolders) that the model flags out of distribution, with their names. */
export async function flagRate(
  predictor: Predictor,
  preparer: InputPreparer,
  dir: string,
  question: string,
  limit = 500,
): Promise<{ images: number; flagged: number; missed: string[] }> {
  const files = listImages(dir).slice(0, limit);
  if (files.length === 0) throw new Error(`${dir}: no .png or .jpg images`);
  let flagged = 0;
  const missed: string[] = [];
  for (const file of files) {
    const [a] = await answerPrepared(predictor, [await preparer.prepare(fs.readFileSync(file), question, 1, Number.MAX_SAFE_INTEGER)]);
    if (a!.out_of_distribution) flagged++;
    else missed.push(path.relative(dir, file));
  }
  return { images: files.length, flagged: percent(flagged / files.length), missed };
}

function listImages(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listImages(p));
    else if (/\.(png|jpe?g)$/i.test(e.name)) out.push(p);
  }
  return out;
}

/** One table: a row per variant, overall and each question type, ECE, flagged images and questions with unseen words. */
export function formatRobustness(results: VariantResult[]): string {
  const types = [...new Set(results.flatMap((r) => Object.keys(r.perType)))];
  const header = ['variant', 'overall', ...types, 'ECE %', 'flagged images %', 'unseen words %'];
  const rows = results.map((r) => [
    r.name,
    r.overall.toFixed(1),
    ...types.map((t) => (r.perType[t] ?? NaN).toFixed(1)),
    r.ece.toFixed(2),
    r.flagged.toFixed(1),
    r.unknownWords.toFixed(1),
  ]);
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
