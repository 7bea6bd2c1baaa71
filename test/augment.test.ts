import { describe, expect, it } from 'vitest';
import { augmentImages } from '../src/classify/augment.ts';
import { epochLearningRate, parseClassifierConfig } from '../src/classify/config.ts';
import { Rng } from '../src/util/rng.ts';

const SIZE = 8;
const PX = SIZE * SIZE * 3;

/** `count` images whose every value is distinct, so where a value came from can be read back. */
function distinctImages(count: number): Float32Array {
  return Float32Array.from({ length: count * PX }, (_, i) => i + 1000);
}

/** The input pixel (x, y) the output pixel read, or undefined when it is the fill. */
function sourceOf(value: number, n: number): { x: number; y: number } | undefined {
  const p = (value - 1000 - n * PX) / 3;
  return { x: p % SIZE, y: Math.floor(p / SIZE) };
}

describe('classifier augmentation', () => {
  it('leaves the images alone when every augmentation is off', () => {
    const pixels = distinctImages(3);
    augmentImages(pixels, 3, SIZE, { shift: 0, flip: false, erase: 0 }, new Rng(1));
    expect(pixels).toEqual(distinctImages(3));
  });

  it('flips each image left–right or not at all, about half of them', () => {
    const count = 200;
    const pixels = distinctImages(count);
    augmentImages(pixels, count, SIZE, { shift: 0, flip: true, erase: 0 }, new Rng(2));
    let flipped = 0;
    for (let n = 0; n < count; n++) {
      const moved = Array.from({ length: SIZE * SIZE }, (_, p) => sourceOf(pixels[n * PX + 3 * p]!, n)!);
      const isFlip = moved.every((s, p) => s.x === SIZE - 1 - (p % SIZE) && s.y === Math.floor(p / SIZE));
      const isSame = moved.every((s, p) => s.x === p % SIZE && s.y === Math.floor(p / SIZE));
      expect(isFlip || isSame).toBe(true);
      flipped += isFlip ? 1 : 0;
    }
    expect(flipped).toBeGreaterThan(70);
    expect(flipped).toBeLessThan(130);
  });

  it('translates by at most `shift` pixels, the uncovered border taking the corner pixel, the same for a seed', () => {
    const count = 50;
    const pixels = distinctImages(count);
    augmentImages(pixels, count, SIZE, { shift: 2, flip: false, erase: 0 }, new Rng(3));
    const shifts = new Set<string>();
    for (let n = 0; n < count; n++) {
      // the pixel at the centre tells the shift; every pixel must then agree with it
      const c = sourceOf(pixels[n * PX + 3 * (4 * SIZE + 4)]!, n)!;
      const dx = 4 - c.x;
      const dy = 4 - c.y;
      expect(Math.abs(dx)).toBeLessThanOrEqual(2);
      expect(Math.abs(dy)).toBeLessThanOrEqual(2);
      shifts.add(`${dx},${dy}`);
      for (let y = 0; y < SIZE; y++)
        for (let x = 0; x < SIZE; x++) {
          const inside = x - dx >= 0 && x - dx < SIZE && y - dy >= 0 && y - dy < SIZE;
          const want = inside ? ((y - dy) * SIZE + (x - dx)) * 3 : 0;
          expect(pixels[n * PX + (y * SIZE + x) * 3 + 1]).toBe(1000 + n * PX + want + 1);
        }
    }
    expect(shifts.size).toBeGreaterThan(10);
    const again = distinctImages(count);
    augmentImages(again, count, SIZE, { shift: 2, flip: false, erase: 0 }, new Rng(3));
    expect(again).toEqual(pixels);
  });

  it('erases one rectangle of 2–40% of the image with values in the normalised pixel range', () => {
    const count = 100;
    const pixels = distinctImages(count);
    augmentImages(pixels, count, SIZE, { shift: 0, flip: false, erase: 1 }, new Rng(4));
    let erasedImages = 0;
    for (let n = 0; n < count; n++) {
      const changed: { x: number; y: number }[] = [];
      for (let p = 0; p < SIZE * SIZE; p++) {
        const v = pixels[n * PX + 3 * p]!;
        if (v !== 1000 + n * PX + 3 * p) {
          expect(v).toBeGreaterThanOrEqual(-2);
          expect(v).toBeLessThanOrEqual(2);
          changed.push({ x: p % SIZE, y: Math.floor(p / SIZE) });
        }
      }
      if (changed.length === 0) continue;
      erasedImages++;
      const w = Math.max(...changed.map((c) => c.x)) - Math.min(...changed.map((c) => c.x)) + 1;
      const h = Math.max(...changed.map((c) => c.y)) - Math.min(...changed.map((c) => c.y)) + 1;
      expect(changed.length).toBe(w * h);
      expect(w * h).toBeLessThanOrEqual(0.4 * SIZE * SIZE + 2 * SIZE);
    }
    expect(erasedImages).toBeGreaterThan(80);
  });

  it('cosine schedule: lr at epoch 0, half at the middle, near 0 at the last epoch; constant stays', () => {
    const cfg = parseClassifierConfig({ train: { lr: 0.01, epochs: 10, schedule: 'cosine' } }, 'test');
    expect(epochLearningRate(cfg.train, 0)).toBeCloseTo(0.01, 12);
    expect(epochLearningRate(cfg.train, 5)).toBeCloseTo(0.005, 12);
    expect(epochLearningRate(cfg.train, 9)).toBeCloseTo(0.01 * 0.5 * (1 + Math.cos((Math.PI * 9) / 10)), 12);
    const flat = parseClassifierConfig({ train: { lr: 0.01, epochs: 10 } }, 'test');
    expect(epochLearningRate(flat.train, 9)).toBe(0.01);
    expect(() => parseClassifierConfig({ train: { augment: { shift: 20 } } }, 'c.json')).toThrow('c.json: invalid classifier config');
  });
});
