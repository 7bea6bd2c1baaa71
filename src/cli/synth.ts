import { clevrLite } from '../data/synth/clevr_lite.ts';
import { shapeColours } from '../data/synth/shape_colours.ts';
import { sortOfClevr } from '../data/synth/sort_of_clevr.ts';
import { writeSynthetic } from '../data/synth/write.ts';
import { Progress } from '../util/progress.ts';

export type SynthKind = 'clevr-lite' | 'sort-of-clevr' | 'shape-colours';

export interface SynthOptions {
  kind: SynthKind;
  out: string;
  train: number;
  val: number;
  seed: number;
  imageSize?: number;
  questionsPerImage: number;
}

/** Defaults for each generator: Sort-of-CLEVR's benchmark sizes, and clevr-lite sized for its bundled recipe. */
export const SYNTH_DEFAULTS: Record<SynthKind, { train: number; val: number; imageSize: number }> = {
  'sort-of-clevr': { train: 10000, val: 1000, imageSize: 75 },
  'clevr-lite': { train: 30000, val: 1000, imageSize: 64 }, // the first phase needs ~200k questions of one family (docs/experiments.md §9)
  'shape-colours': { train: 400, val: 100, imageSize: 24 },
};

export async function synthesize(o: SynthOptions): Promise<void> {
  const imageSize = o.imageSize ?? SYNTH_DEFAULTS[o.kind].imageSize;
  const gen =
    o.kind === 'sort-of-clevr' ? sortOfClevr(o.seed, imageSize) : o.kind === 'shape-colours' ? shapeColours(o.seed, imageSize) : clevrLite(o.seed, imageSize, o.questionsPerImage);
  const progress = new Progress(`generating ${o.kind}`, o.train + o.val, 'images');
  await writeSynthetic(
    gen,
    o.out,
    [
      { name: 'train', images: o.train },
      { name: 'val', images: o.val },
    ],
    { kind: o.kind, seed: o.seed, imageSize, ...(o.kind === 'clevr-lite' ? { questionsPerImage: o.questionsPerImage } : {}) },
    (d, t) => progress.update(d, `${t - d} left`),
  );
}
