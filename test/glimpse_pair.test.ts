import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { parseRunConfig } from '../src/config/config.ts';
import { GlimpsePair } from '../src/model/glimpse_pair.ts';
import { ParamStore } from '../src/nn/params.ts';
import { maxAbsDiff, useWasm } from './helpers.ts';

beforeAll(useWasm);

describe("the product of hop 1's two objects (imageAttention.pair)", () => {
  it('equals s·z/‖z‖, z_j = Σ_{i<k} (Wₐa + bₐ)_{jk+i} (W_b b + b_b)_{jk+i}, from the first and second d columns, and owns no tensor after', () => {
    const [d, k, o, scale] = [4, 3, 5, 30];
    const store = new ParamStore(2);
    const pair = new GlimpsePair(store, d, { k, o }, scale);
    const objects = tf.randomNormal([3, 2 * d], 0, 1, 'float32', 11) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => pair.apply(objects));
    expect(tf.memory().numTensors).toBe(before + 1);
    const [wa, ba, wb, bb] = ['pair.x.w', 'pair.x.b', 'pair.y.w', 'pair.y.b'].map((n) => store.get(n).arraySync() as number[][] | number[]);
    const project = (x: number[], w: number[][], b: number[]) => b.map((bias, j) => bias + x.reduce((s, xi, i) => s + xi * w[i]![j]!, 0));
    const expected = (objects.arraySync() as number[][]).flatMap((row) => {
      const pa = project(row.slice(0, d), wa as number[][], ba as number[]);
      const pb = project(row.slice(d), wb as number[][], bb as number[]);
      const z = Array.from({ length: o }, (_, j) => Array.from({ length: k }, (_, i) => pa[j * k + i]! * pb[j * k + i]!).reduce((s, v) => s + v, 0));
      const norm = Math.hypot(...z);
      return z.map((v) => (scale * v) / norm);
    });
    expect(got.shape).toEqual([3, o]);
    expect(maxAbsDiff(Array.from(got.dataSync()), expected)).toBeLessThan(1e-4);
    tf.dispose([objects, got]);
    for (const [, v] of store.entries()) v.dispose();
  });

  it('is refused with one glimpse', () => {
    expect(() => parseRunConfig({ model: { imageAttention: { glimpses: 1, pair: {} } } }, 'cfg.json')).toThrow(
      "cfg.json: model.imageAttention.pair multiplies hop 1's first two glimpses; imageAttention.glimpses is 1",
    );
  });
});
