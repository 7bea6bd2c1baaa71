import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { GlimpsePositions, regionCentres } from '../src/model/glimpse_positions.ts';
import { maxAbsDiff, useWasm } from './helpers.ts';

beforeAll(async () => {
  await useWasm();
});

describe('where each attention map looked', () => {
  it('region centres run x then y over [-1, 1], row by row, as the coordinate channels', () => {
    expect(Array.from(regionCentres(2, 3))).toEqual([-1, -1, 0, -1, 1, -1, -1, 1, 0, 1, 1, 1]);
  });

  it('equals s · Σ_n a[b,m,n] · c_n per map, (x, y) per map in order, and owns no tensor after', () => {
    const grid: [number, number] = [2, 3];
    const centres = regionCentres(...grid);
    const maps = tf.softmax(tf.randomNormal([4, 3, 6], 0, 2, 'float32', 7)) as tf.Tensor3D;
    const positions = new GlimpsePositions(grid, 2.5);
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => positions.apply(maps));
    expect(tf.memory().numTensors).toBe(before + 1);
    const a = maps.arraySync();
    const expected = a.flatMap((perMap) => perMap.flatMap((w) => [0, 1].map((axis) => 2.5 * w.reduce((s, wn, n) => s + wn * centres[2 * n + axis]!, 0))));
    expect(got.shape).toEqual([4, 6]);
    expect(maxAbsDiff(Array.from(got.dataSync()), expected)).toBeLessThan(1e-6);
    // a map on one region gives that region's centre: the lower right one
    const oneHot = tf.oneHot(tf.tensor1d([5], 'int32'), 6).reshape([1, 1, 6]) as tf.Tensor3D;
    const corner = tf.tidy(() => positions.apply(oneHot));
    expect(Array.from(corner.dataSync())).toEqual([2.5, 2.5]);
    tf.dispose([maps, got, oneHot, corner]);
  });
});
