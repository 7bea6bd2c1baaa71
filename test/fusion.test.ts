import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { Mfb, Mfh, sumPoolSqrt } from '../src/fusion/index.ts';
import { ParamStore } from '../src/model/params.ts';
import { l2Normalize, maskedSoftmax, signedSqrt, SIGNED_SQRT_GRAD_EPS } from '../src/model/ops.ts';
import { maxAbsDiff, useWasm } from './helpers.ts';

// Formula-level checks of the fusion layers, against the equations written out in plain JS.
const TOL = 1e-5;

beforeAll(useWasm);

function arr(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

describe('MFB building blocks', () => {
  it('sum-pools contiguous groups of k, then takes the signed square root', () => {
    const e = tf.tensor2d([[1, 2, 3, -4, -5, -6, 0.25, 0, 0]], [1, 9]);
    // k = 3, o = 3: groups [1,2,3], [-4,-5,-6], [0.25,0,0] → 6, −15, 0.25 → √6, −√15, 0.5
    expect(maxAbsDiff(arr(sumPoolSqrt(e, 3, 3)), [Math.sqrt(6), -Math.sqrt(15), 0.5])).toBeLessThan(TOL);
  });

  it('bounds the signed square root gradient near zero: 0.5/(|y| + ε)', () => {
    const z = tf.tensor1d([0, 1e-8, 4, -9]);
    const g = arr(tf.grad((x: tf.Tensor) => tf.sum(signedSqrt(x)))(z));
    const expected = [0, 1e-8, 4, -9].map((v) => 0.5 / (Math.sqrt(Math.abs(v)) + SIGNED_SQRT_GRAD_EPS));
    expect(maxAbsDiff(g, expected)).toBeLessThan(TOL);
    expect(Math.max(...g)).toBeLessThanOrEqual(0.5 / SIGNED_SQRT_GRAD_EPS + TOL);
  });

  it('L2-normalises jointly over the given axes', () => {
    const z = tf.tensor3d([[[3, 0], [0, 4]]]);
    expect(maxAbsDiff(arr(l2Normalize(z, [1, 2])), [0.6, 0, 0, 0.8])).toBeLessThan(TOL);
    expect(maxAbsDiff(arr(l2Normalize(z, [2])), [1, 0, 0, 1])).toBeLessThan(TOL);
  });

  it('gives masked positions no attention weight', () => {
    const logits = tf.tensor2d([[5, 1, 100, 2]]);
    const mask = tf.tensor2d([[1, 1, 0, 1]]);
    const w = arr(maskedSoftmax(logits, mask, 1));
    const ex = [Math.exp(5), Math.exp(1), 0, Math.exp(2)];
    const s = ex.reduce((a, b) => a + b);
    expect(maxAbsDiff(w, ex.map((v) => v / s))).toBeLessThan(TOL);
  });
});

/** MFB written out element by element from its definition. */
function mfbReference(x: number[], y: number[], wx: number[][], bx: number[], wy: number[][], by: number[], k: number, o: number): number[] {
  const proj = (v: number[], w: number[][], b: number[]) => b.map((bj, j) => bj + v.reduce((acc, vi, i) => acc + vi * w[i]![j]!, 0));
  const xp = proj(x, wx, bx);
  const yp = proj(y, wy, by);
  const z = Array.from({ length: o }, (_, i) => {
    let s = 0;
    for (let j = 0; j < k; j++) s += xp[i * k + j]! * yp[i * k + j]!;
    return Math.sign(s) * Math.sqrt(Math.abs(s));
  });
  const norm = Math.sqrt(z.reduce((a, v) => a + v * v, 0));
  return z.map((v) => v / Math.max(norm, 1e-12));
}

function as2d(t: tf.Tensor): number[][] {
  return t.arraySync() as number[][];
}

describe('Mfb', () => {
  it('equals the written-out formula (project, multiply, sum-pool over k, signed sqrt, L2)', () => {
    const store = new ParamStore(4);
    const mfb = new Mfb(store, 'm', 5, 3, { k: 4, o: 6, dropout: 0 });
    tf.tidy(() => {
      for (const v of [mfb.projectX.b, mfb.projectY.b]) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 2));
    });
    const x = [0.5, -1, 2, 0.1, 0.7];
    const y = [1.5, 0.2, -0.3];
    const got = arr(mfb.apply(tf.tensor2d([x]), tf.tensor2d([y]), false));
    const want = mfbReference(x, y, as2d(mfb.projectX.w), arr(mfb.projectX.b), as2d(mfb.projectY.w), arr(mfb.projectY.b), 4, 6);
    expect(maxAbsDiff(got, want)).toBeLessThan(TOL);
    store.dispose();
  });

  it('with k = 1 is the Hadamard low-rank bilinear form (MLB) with normalisation', () => {
    const store = new ParamStore(5);
    const mfb = new Mfb(store, 'm', 4, 4, { k: 1, o: 7, dropout: 0 });
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 1);
    const y = tf.randomNormal([3, 4], 0, 1, 'float32', 2);
    const hadamard = tf.mul(mfb.projectX.apply(x), mfb.projectY.apply(y));
    const want = l2Normalize(tf.mul(tf.sign(hadamard), tf.sqrt(tf.abs(hadamard))), [-1]);
    expect(maxAbsDiff(arr(mfb.apply(x, y, false)), arr(want))).toBeLessThan(TOL);
    store.dispose();
  });

  it('applies dropout only in training', () => {
    const store = new ParamStore(6);
    const mfb = new Mfb(store, 'm', 4, 4, { k: 2, o: 50, dropout: 0.5 });
    const x = tf.ones([1, 4]);
    const y = tf.ones([1, 4]);
    expect(arr(mfb.apply(x, y, false))).toEqual(arr(mfb.apply(x, y, false)));
    expect(maxAbsDiff(arr(mfb.apply(x, y, true)), arr(mfb.apply(x, y, false)))).toBeGreaterThan(1e-3);
    store.dispose();
  });
});

describe('Mfh', () => {
  it("multiplies block 2's projections with block 1's expanded product and outputs [z1; z2]", () => {
    const store = new ParamStore(7);
    const mfh = new Mfh(store, 'h', 4, 3, { k: 3, o: 5, dropout: 0 });
    const x = tf.randomNormal([2, 4], 0, 1, 'float32', 3);
    const y = tf.randomNormal([2, 3], 0, 1, 'float32', 4);
    const p = (name: string, v: tf.Tensor) => tf.add(tf.matMul(v, store.get(`${name}.w`)), store.get(`${name}.b`));
    const e1 = tf.mul(p('h.block1.x', x), p('h.block1.y', y));
    const e2 = tf.mul(tf.mul(p('h.block2.x', x), p('h.block2.y', y)), e1);
    const norm = (e: tf.Tensor) => l2Normalize(sumPoolSqrt(e, 3, 5), [-1]);
    const want = tf.concat([norm(e1), norm(e2)], 1);
    const got = mfh.apply(x, y, false);
    expect(got.shape).toEqual([2, 10]);
    expect(maxAbsDiff(arr(got), arr(want))).toBeLessThan(TOL);
    store.dispose();
  });
});
