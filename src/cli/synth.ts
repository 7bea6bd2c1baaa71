import { generator, type SynthKind } from '../data/synth/generators.ts';
import { styleNamed, type StyleName } from '../data/synth/types.ts';
import { writeSynthetic, type SplitSize } from '../data/synth/write.ts';
import { Progress } from '../util/progress.ts';

export type { SynthKind };

export interface SynthOptions {
  kind: SynthKind;
  out: string;
  train: number;
  val: number;
  seed: number;
  imageSize?: number;
  questionsPerImage: number;
  /**
   * spec: the original scenes and wording; spec-pixels: the original scenes in random wordings;
   * random (the default): random looks, degradations and wordings. Sets with random wordings get a
   * val-reworded split.
   */
  style?: StyleName;
}

/** Defaults for each generator: Sort-of-CLEVR's benchmark sizes, and clevr-lite sized for its bundled recipe. */
export const SYNTH_DEFAULTS: Record<SynthKind, { train: number; val: number; imageSize: number }> = {
  'sort-of-clevr': { train: 10000, val: 1000, imageSize: 75 },
  'clevr-lite': { train: 30000, val: 1000, imageSize: 64 }, // the first phase needs ~200k questions of one family (docs/experiments.md §9)
  'shape-colours': { train: 400, val: 100, imageSize: 24 },
};

export async function synthesize(o: SynthOptions): Promise<void> {
  const imageSize = o.imageSize ?? SYNTH_DEFAULTS[o.kind].imageSize;
  const styleName = o.style ?? 'random';
  const style = styleNamed(styleName, 'data synth'); // the library's callers pass it unchecked
  const gen = generator(o.kind, o.seed, imageSize, o.questionsPerImage, style);
  const splits: SplitSize[] = [
    { name: 'train', images: o.train },
    { name: 'val', images: o.val },
  ];
  // The val scenes again, asked in wordings that training never sees.
  if (style.wordings !== 'spec' && o.kind !== 'shape-colours') {
    splits.push({ name: 'val-reworded', images: o.val, scenes: 'val', generator: generator(o.kind, o.seed, imageSize, o.questionsPerImage, { ...style, wordings: 'held-out' }) });
  }
  const progress = new Progress(
    `generating ${o.kind}`,
    splits.reduce((n, s) => n + s.images, 0),
    'images',
  );
  await writeSynthetic(
    gen,
    o.out,
    splits,
    { kind: o.kind, seed: o.seed, imageSize, style: styleName, ...(o.kind === 'clevr-lite' ? { questionsPerImage: o.questionsPerImage } : {}) },
    (d, t) => progress.update(d, `${t - d} left`),
  );
}
