import { clevrLite } from './clevr_lite.ts';
import { shapeColours } from './shape_colours.ts';
import { sortOfClevr } from './sort_of_clevr.ts';
import type { Generator, SceneStyle } from './types.ts';

export type SynthKind = 'clevr-lite' | 'sort-of-clevr' | 'shape-colours';

/** A VQA generator by kind (shape-colours has one look and one wording, and ignores the style). */
export function generator(kind: SynthKind, seed: number, imageSize: number, questionsPerImage: number, style: SceneStyle): Generator {
  if (kind === 'sort-of-clevr') return sortOfClevr(seed, imageSize, style);
  if (kind === 'shape-colours') return shapeColours(seed, imageSize);
  return clevrLite(seed, imageSize, questionsPerImage, style);
}
