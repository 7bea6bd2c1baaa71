import { Canvas, type Rgb } from './raster.ts';
import { imageRng } from './seed.ts';
import type { GeneratedImage, GeneratedQuestion, Generator } from './types.ts';

// Sort-of-CLEVR as in Santoro et al. 2017 (Relation Networks) and its public reproduction: 75×75
// images on white, six objects of six distinct pure colours, each a square (11×11 px) or a circle
// (radius 5 px) at an integer centre in [5, 69], centres at least 10 px apart; ten non-relational
// and ten relational questions per image. Other sizes scale the object size with the image.
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

/** Integer centres in [r, size − 1 − r], redrawn until at least 2r from every earlier centre. */
function placeObjects(rng: ReturnType<typeof imageRng>, size: number, r: number): SortObject[] {
  const objects: SortObject[] = [];
  for (const [colour] of COLOURS) {
    for (;;) {
      const x = rng.int(r, size - r);
      const y = rng.int(r, size - r);
      if (objects.every((o) => (o.x - x) ** 2 + (o.y - y) ** 2 >= (2 * r) ** 2)) {
        objects.push({ colour, shape: rng.pick(SHAPES), x, y });
        break;
      }
    }
  }
  return objects;
}

function nonRelational(subject: SortObject, kind: number, size: number): GeneratedQuestion {
  const c = subject.colour;
  if (kind === 0) return { question: `What is the shape of the ${c} object?`, answer: subject.shape, questionType: 'shape', answerType: 'other' };
  if (kind === 1) {
    return {
      question: `Is the ${c} object on the left or on the right of the image?`,
      answer: subject.x < size / 2 ? 'left' : 'right',
      questionType: 'horizontal position',
      answerType: 'other',
    };
  }
  return {
    question: `Is the ${c} object at the top or at the bottom of the image?`,
    answer: subject.y < size / 2 ? 'top' : 'bottom',
    questionType: 'vertical position',
    answerType: 'other',
  };
}

function relational(subject: SortObject, objects: SortObject[], kind: number): GeneratedQuestion {
  const c = subject.colour;
  const others = objects.filter((o) => o !== subject);
  const distance = (o: SortObject) => Math.hypot(o.x - subject.x, o.y - subject.y);
  if (kind === 0) {
    const closest = others.reduce((a, b) => (distance(b) < distance(a) ? b : a));
    return { question: `What is the shape of the object closest to the ${c} object?`, answer: closest.shape, questionType: 'closest shape', answerType: 'other' };
  }
  if (kind === 1) {
    const furthest = others.reduce((a, b) => (distance(b) > distance(a) ? b : a));
    return { question: `What is the shape of the object furthest from the ${c} object?`, answer: furthest.shape, questionType: 'furthest shape', answerType: 'other' };
  }
  const count = objects.filter((o) => o.shape === subject.shape).length;
  return { question: `How many objects have the same shape as the ${c} object?`, answer: String(count), questionType: 'count same shape', answerType: 'number' };
}

export function sortOfClevr(seed: number, imageSize: number): Generator {
  return {
    kind: 'sort-of-clevr',
    questionGroups: SORT_OF_CLEVR_GROUPS,
    generate(index: number, split: string): GeneratedImage {
      const rng = imageRng(seed, split, index);
      const r = Math.max(1, Math.round((OBJECT_SIZE * imageSize) / 75));
      const objects = placeObjects(rng, imageSize, r);
      const canvas = new Canvas(imageSize, [255, 255, 255]);
      const colourOf = new Map(COLOURS);
      // The canvas samples pixel centres at x + 0.5: shifting by half a pixel puts the integer
      // centre on a pixel, so a square covers centre ± r (2r + 1 px) and a circle the pixels within r.
      for (const o of objects) canvas.draw(o.shape, o.x + 0.5, o.y + 0.5, r, colourOf.get(o.colour)!);
      const questions: GeneratedQuestion[] = [];
      for (let i = 0; i < 10; i++) questions.push(nonRelational(rng.pick(objects), rng.int(0, 3), imageSize));
      for (let i = 0; i < 10; i++) questions.push(relational(rng.pick(objects), objects, rng.int(0, 3)));
      return { pixels: canvas.pixels, questions };
    },
  };
}
