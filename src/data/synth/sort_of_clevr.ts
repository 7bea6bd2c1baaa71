import type { Rng } from '../../util/rng.ts';
import { antialiased, background, objectColour, objectScale } from './look.ts';
import { Canvas, type Rgb } from './raster.ts';
import { imageRng } from './seed.ts';
import type { GeneratedImage, GeneratedQuestion, Generator, SceneStyle } from './types.ts';
import { fill, pickTemplate, surface, synonym, type Wordings, type WordingSet } from './wording.ts';

// Sort-of-CLEVR as in Santoro et al. 2017 (Relation Networks) and its public reproduction: 75×75
// images on white, six objects of six distinct pure colours, each a square (11×11 px) or a circle
// (radius 5 px) at an integer centre in [5, 69], centres at least 10 px apart; ten non-relational
// and ten relational questions per image. Other sizes scale the object size with the image.
// SPEC_STYLE draws exactly that; other styles vary the drawing, the count and the wording.
const COLOURS: [string, Rgb][] = [
  ['red', [255, 0, 0]],
  ['green', [0, 255, 0]],
  ['blue', [0, 0, 255]],
  ['orange', [255, 156, 0]],
  ['gray', [128, 128, 128]],
  ['yellow', [255, 255, 0]],
];
const SHAPES = ['square', 'circle'] as const;
/** half-extent of an object at 75 px: squares span centre ± 5 px, circles have radius 5 px */
const OBJECT_SIZE = 5;

interface SortObject {
  colour: string;
  shape: (typeof SHAPES)[number];
  x: number;
  y: number;
}

export const SORT_OF_CLEVR_GROUPS = {
  'non-relational': ['shape', 'horizontal position', 'vertical position'],
  relational: ['closest shape', 'furthest shape', 'count same shape'],
};

type QuestionType = 'shape' | 'horizontal position' | 'vertical position' | 'closest shape' | 'furthest shape' | 'count same shape';

/** The first wording of each type is the published one; {c} is the colour, {o} a word for object. */
export const SORT_OF_CLEVR_WORDINGS: Record<QuestionType, Wordings> = {
  shape: {
    train: [
      'What is the shape of the {c} {o}?',
      'What shape is the {c} {o}?',
      'Which shape does the {c} {o} have?',
      'The {c} {o} is what shape?',
      'Tell me the shape of the {c} {o}.',
      'Is the {c} {o} a circle or a square?',
      'What kind of shape is the {c} {o}?',
    ],
    heldOut: ['Can you tell me what shape the {c} {o} is?', 'Is the {c} {o} round or square?', 'Square or circle: which is the {c} {o}?'],
  },
  'horizontal position': {
    train: [
      'Is the {c} {o} on the left or on the right of the image?',
      'Is the {c} {o} on the left or right?',
      'Which side is the {c} {o} on, left or right?',
      'On which side of the picture is the {c} {o}?',
      'Is the {c} {o} in the left half or the right half?',
      'Left or right: where is the {c} {o}?',
    ],
    heldOut: ['Does the {c} {o} sit on the left or on the right side?', 'Which half of the image holds the {c} {o}, left or right?'],
  },
  'vertical position': {
    train: [
      'Is the {c} {o} at the top or at the bottom of the image?',
      'Is the {c} {o} at the top or bottom?',
      'Which half is the {c} {o} in, top or bottom?',
      'Is the {c} {o} in the upper half or the lower half of the picture?',
      'Top or bottom: where is the {c} {o}?',
      'Is the {c} {o} near the top or near the bottom?',
    ],
    heldOut: ['Does the {c} {o} sit at the top or at the bottom of the picture?', 'Which half of the image holds the {c} {o}, top or bottom?'],
  },
  'closest shape': {
    train: [
      'What is the shape of the {o} closest to the {c} {o}?',
      'What shape is the {o} nearest to the {c} {o}?',
      'The {o} closest to the {c} {o} is what shape?',
      'What shape is the {o} that is closest to the {c} {o}?',
      'Which shape is the nearest {o} to the {c} {o}?',
      'Tell me the shape of the {o} nearest the {c} {o}.',
    ],
    heldOut: ['Looking at the {c} {o}, what shape is the {o} nearest to it?', 'What is the shape of the {o} that lies closest to the {c} {o}?'],
  },
  'furthest shape': {
    train: [
      'What is the shape of the {o} furthest from the {c} {o}?',
      'What shape is the {o} farthest from the {c} {o}?',
      'The {o} furthest from the {c} {o} is what shape?',
      'What shape is the {o} that is farthest away from the {c} {o}?',
      'Which shape is the most distant {o} from the {c} {o}?',
      'Tell me the shape of the {o} furthest away from the {c} {o}.',
    ],
    heldOut: ['Looking at the {c} {o}, what shape is the {o} farthest from it?', 'What is the shape of the {o} that lies furthest from the {c} {o}?'],
  },
  'count same shape': {
    train: [
      'How many objects have the same shape as the {c} {o}?',
      'How many objects share the shape of the {c} {o}?',
      'Count the objects with the same shape as the {c} {o}.',
      'What number of objects have the same shape as the {c} {o}?',
      'How many things are the same shape as the {c} {o}?',
      'How many objects are shaped like the {c} {o}?',
    ],
    heldOut: ['Counting the {c} {o} itself, how many objects have its shape?', 'How many shapes are of the same kind as the {c} {o}?'],
  },
};
const OBJECT_WORDS: Wordings = { train: ['object', 'thing', 'item', 'shape'], heldOut: ['one', 'figure'] };
const COLOUR_WORDS: Record<string, Wordings> = { gray: { train: ['gray', 'grey'], heldOut: [] } };

/** Integer centres in [r, size − 1 − r], redrawn until at least `apart` from every earlier centre. */
function placeObjects(rng: Rng, size: number, r: number, colours: readonly string[], apart: number): SortObject[] {
  const objects: SortObject[] = [];
  for (const colour of colours) {
    for (;;) {
      const x = rng.int(r, size - r);
      const y = rng.int(r, size - r);
      if (objects.every((o) => (o.x - x) ** 2 + (o.y - y) ** 2 >= apart ** 2)) {
        objects.push({ colour, shape: rng.pick(SHAPES), x, y });
        break;
      }
    }
  }
  return objects;
}

function answerOf(type: QuestionType, subject: SortObject, objects: SortObject[], size: number): string {
  const others = objects.filter((o) => o !== subject);
  const distance = (o: SortObject) => Math.hypot(o.x - subject.x, o.y - subject.y);
  switch (type) {
    case 'shape':
      return subject.shape;
    case 'horizontal position':
      return subject.x < size / 2 ? 'left' : 'right';
    case 'vertical position':
      return subject.y < size / 2 ? 'top' : 'bottom';
    case 'closest shape':
      return others.reduce((a, b) => (distance(b) < distance(a) ? b : a)).shape;
    case 'furthest shape':
      return others.reduce((a, b) => (distance(b) > distance(a) ? b : a)).shape;
    case 'count same shape':
      return String(objects.filter((o) => o.shape === subject.shape).length);
  }
}

function question(rng: Rng, type: QuestionType, subject: SortObject, objects: SortObject[], size: number, set: WordingSet): GeneratedQuestion {
  const c = COLOUR_WORDS[subject.colour] ? synonym(rng, COLOUR_WORDS[subject.colour]!, set) : subject.colour;
  const o = synonym(rng, OBJECT_WORDS, set);
  const text = surface(rng, fill(pickTemplate(rng, SORT_OF_CLEVR_WORDINGS[type], set), { c, o }), set);
  return { question: text, answer: answerOf(type, subject, objects, size), questionType: type, answerType: type === 'count same shape' ? 'number' : 'other' };
}

const NON_RELATIONAL: QuestionType[] = ['shape', 'horizontal position', 'vertical position'];
const RELATIONAL: QuestionType[] = ['closest shape', 'furthest shape', 'count same shape'];

export function sortOfClevr(seed: number, imageSize: number, style: SceneStyle): Generator {
  return {
    kind: 'sort-of-clevr',
    questionGroups: SORT_OF_CLEVR_GROUPS,
    vocabulary: { shapes: SHAPES, outlines: false, palette: COLOURS.map(([, rgb]) => rgb), radius: OBJECT_SIZE / 75 },
    generate(index: number, split: string): GeneratedImage {
      const rng = imageRng(seed, split, index);
      // The drawing draws from its own stream, so a style changes how a scene looks, not what is in it.
      const drawRng = rng.fork(1);
      const r = Math.max(1, Math.round((OBJECT_SIZE * imageSize) / 75));
      const fewer = drawRng.next() < style.fewerObjects;
      const overlap = drawRng.next() < style.overlap;
      // The spec's six objects in the spec's order from the scene's stream; other layouts from the drawing's.
      const objects =
        fewer || overlap
          ? placeObjects(drawRng, imageSize, r, drawRng.shuffle(COLOURS.map(([c]) => c)).slice(0, fewer ? drawRng.int(2, COLOURS.length) : COLOURS.length), overlap ? r : 2 * r)
          : placeObjects(
              rng,
              imageSize,
              r,
              COLOURS.map(([c]) => c),
              2 * r,
            );
      const colourOf = new Map(COLOURS);
      const colours = objects.map((o) => objectColour(drawRng, style.look, colourOf.get(o.colour)!));
      const canvas = new Canvas(imageSize, background(drawRng, style.look, [255, 255, 255], colours));
      const aa = antialiased(drawRng, style.look);
      // The canvas samples pixel centres at x + 0.5: shifting by half a pixel puts the integer
      // centre on a pixel, so a square covers centre ± r (2r + 1 px) and a circle the pixels within r.
      objects.forEach((o, i) => canvas.draw(o.shape, o.x + 0.5, o.y + 0.5, r * objectScale(drawRng, style.look), colours[i]!, 0, aa));
      const questions: GeneratedQuestion[] = [];
      for (const types of [NON_RELATIONAL, RELATIONAL]) {
        for (let i = 0; i < 10; i++) {
          const subject = rng.pick(objects); // the spec's order of draws: the subject, then the type
          questions.push(question(rng, types[rng.int(0, 3)]!, subject, objects, imageSize, style.wordings));
        }
      }
      return { pixels: canvas.pixels, questions, degradation: style.degradation(drawRng) };
    },
  };
}
