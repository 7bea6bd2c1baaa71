import { clevrLite } from './clevr_lite.ts';
import { shapeColours } from './shape_colours.ts';
import { sortOfClevr } from './sort_of_clevr.ts';
import { SPEC_STYLE, styleNamed, type Generator, type SceneStyle } from './types.ts';
import type { Vocabulary } from './unfamiliar.ts';

export type SynthKind = 'clevr-lite' | 'sort-of-clevr' | 'shape-colours';

/** A VQA generator by kind (shape-colours has one look and one wording, and ignores the style). */
export function generator(kind: SynthKind, seed: number, imageSize: number, questionsPerImage: number, style: SceneStyle): Generator {
  if (kind === 'sort-of-clevr') return sortOfClevr(seed, imageSize, style);
  if (kind === 'shape-colours') return shapeColours(seed, imageSize);
  return clevrLite(seed, imageSize, questionsPerImage, style);
}

/** The shapes and colours a generated set's generator draws (from its manifest's `generator`), if it is one that has them. */
export function vocabularyOf(spec: Record<string, unknown> | undefined): Vocabulary | undefined {
  const kind = spec?.kind;
  if (kind !== 'sort-of-clevr' && kind !== 'clevr-lite') return undefined;
  return generator(kind, 1, 75, 1, SPEC_STYLE).vocabulary;
}

/** The style a generated set was drawn in (its manifest's `generator.style`; sets from before there were styles are the spec's). */
export function styleOf(spec: Record<string, unknown> | undefined): SceneStyle {
  return spec?.style === undefined ? SPEC_STYLE : styleNamed(spec.style, 'dataset.json generator.style');
}
