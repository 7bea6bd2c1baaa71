import { Canvas, type Rgb } from './raster.ts';
import { imageRng } from './seed.ts';
import type { GeneratedQuestion, Generator } from './types.ts';

// The smallest task that only the image can answer: one to three objects of distinct shapes, each
// in one of six colours, and "What color is the <shape>?" for each. A question-only model is at
// chance (1/6); a model whose image path works learns it in a minute. The suite's learning test.
const COLOURS: [string, Rgb][] = [
  ['red', [230, 25, 25]],
  ['green', [25, 200, 25]],
  ['blue', [25, 25, 230]],
  ['yellow', [240, 220, 20]],
  ['purple', [150, 40, 200]],
  ['gray', [128, 128, 128]],
];
const SHAPES = ['square', 'circle', 'triangle'] as const;

export function shapeColours(seed: number, imageSize: number): Generator {
  return {
    kind: 'shape-colours',
    questionGroups: { 'query colour': ['colour of shape'] },
    generate(index: number, split: string) {
      const rng = imageRng(seed, split, index);
      const shapes = rng.shuffle([...SHAPES]).slice(0, rng.int(1, SHAPES.length + 1));
      const canvas = new Canvas(imageSize, [255, 255, 255]);
      const r = imageSize / 7;
      // One object per third of the image (shuffled), so that objects never overlap.
      const slots = rng.shuffle([0, 1, 2]);
      const questions: GeneratedQuestion[] = shapes.map((shape, i) => {
        const [colour, rgb] = rng.pick(COLOURS);
        const cx = ((slots[i]! + 0.5) * imageSize) / 3;
        const cy = r + 1 + rng.next() * (imageSize - 2 * r - 2);
        canvas.draw(shape, cx, cy, r, rgb);
        return { question: `What color is the ${shape}?`, answer: colour, questionType: 'colour of shape', answerType: 'other' };
      });
      return { pixels: canvas.pixels, questions, degradation: {} };
    },
  };
}
