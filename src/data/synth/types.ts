import type { Rng } from '../../util/rng.ts';
import { randomDegradation, type Degradation } from './degrade.ts';
import { RANDOM_LOOK, SPEC_LOOK, type Look } from './look.ts';
import type { Vocabulary } from './unfamiliar.ts';
import type { WordingSet } from './wording.ts';

/** One generated question with its single answer (all ten annotators agree on generated data). */
export interface GeneratedQuestion {
  question: string;
  answer: string;
  questionType: string;
  answerType: 'yes/no' | 'number' | 'other';
}

export interface GeneratedImage {
  pixels: Uint8Array;
  questions: GeneratedQuestion[];
  /** what happens to the pixels before they are stored (write.ts applies it) */
  degradation: Degradation;
}

/** How a generator varies its scenes beyond what its questions ask about. */
export interface SceneStyle {
  look: Look;
  wordings: WordingSet;
  /** the degradation of each image, drawn from its own generator */
  degradation: (rng: Rng) => Degradation;
  /** chance of fewer objects than the spec's (Sort-of-CLEVR: 2–5 instead of 6) */
  fewerObjects: number;
  /** chance that objects may overlap (centres only one object size apart) */
  overlap: number;
}

/** The published scenes and wording, pixel for pixel. */
export const SPEC_STYLE: SceneStyle = { look: SPEC_LOOK, wordings: 'spec', degradation: () => ({}), fewerObjects: 0, overlap: 0 };

export interface Generator {
  kind: string;
  /** question_type families grouped for reporting (e.g. relational / non-relational) */
  questionGroups: Record<string, string[]>;
  generate(index: number, split: string): GeneratedImage;
  /** the shapes and colours it draws, from which unfamiliar scenes are drawn (unfamiliar.ts) */
  vocabulary?: Vocabulary;
}

/** The training default: random looks, degradations, counts, overlaps and wordings (held-out wordings excluded). */
export const RANDOM_STYLE: SceneStyle = { look: RANDOM_LOOK, wordings: 'train', degradation: randomDegradation, fewerObjects: 0.5, overlap: 0.2 };

/** The published scenes pixel for pixel, asked in the training wordings (held-out wordings excluded). */
export const SPEC_PIXELS_STYLE: SceneStyle = { ...SPEC_STYLE, wordings: 'train' };

/** The styles a set can be written in, by the name its manifest records (`generator.style`). */
export const STYLES = { spec: SPEC_STYLE, random: RANDOM_STYLE, 'spec-pixels': SPEC_PIXELS_STYLE } as const;
export type StyleName = keyof typeof STYLES;

/** The style of that name; anything else is refused, naming where it came from. */
export function styleNamed(name: unknown, where: string): SceneStyle {
  if (typeof name === 'string' && Object.hasOwn(STYLES, name)) return STYLES[name as StyleName];
  throw new Error(`${where}: style ${JSON.stringify(name)} is not one of ${Object.keys(STYLES).join(', ')}`);
}
