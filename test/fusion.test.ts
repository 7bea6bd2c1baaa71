import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/backend/tf.ts';
import { BilinearFusion, ConcatFusion, FUSION_KINDS, LowRankBilinearFusion, Mfb, Mfh, outerProduct, ProductFusion } from '../src/fusion/index.ts';
import { VqaNet } from '../src/model/net.ts';
import { inference as o, SIGNED_SQRT_GRAD_EPS, training } from '../src/nn/eager_ops.ts';
import { l2Normalize as l2, maskedSoftmax as softmaxMasked, sumPool } from '../src/nn/functions.ts';
import { ParamStore } from '../src/nn/params.ts';
import { maxAbsDiff, tinyConfig, useWasm } from './helpers.ts';

// Formula-level checks of the fusion layers, against the equations written out in plain JS.
const TOL = 1e-5;

beforeAll(useWasm);

function arr(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

const l2Normalize = (z: tf.Tensor, axes: number[]) => l2(o, z, axes);
const sumPoolSqrt = (e: tf.Tensor, k: number, width: number) => o.signedSqrt(sumPool(o, e, k, width));

describe('MFB building blocks', () => {
  it('sum-pools contiguous groups of k, then takes the signed square root', () => {
    const e = tf.tensor2d([[1, 2, 3, -4, -5, -6, 0.25, 0, 0]], [1, 9]);
    // k = 3, o = 3: groups [1,2,3], [-4,-5,-6], [0.25,0,0] → 6, −15, 0.25 → √6, −√15, 0.5
    expect(maxAbsDiff(arr(sumPoolSqrt(e, 3, 3)), [Math.sqrt(6), -Math.sqrt(15), 0.5])).toBeLessThan(TOL);
  });

  it('bounds the signed square root gradient near zero: 0.5/(|y| + ε)', () => {
    const z = tf.tensor1d([0, 1e-8, 4, -9]);
    const g = arr(tf.grad((x: tf.Tensor) => tf.sum(o.signedSqrt(x)))(z));
    const expected = [0, 1e-8, 4, -9].map((v) => 0.5 / (Math.sqrt(Math.abs(v)) + SIGNED_SQRT_GRAD_EPS));
    expect(maxAbsDiff(g, expected)).toBeLessThan(TOL);
    expect(Math.max(...g)).toBeLessThanOrEqual(0.5 / SIGNED_SQRT_GRAD_EPS + TOL);
  });

  it('L2-normalises jointly over the given axes', () => {
    const z = tf.tensor3d([
      [
        [3, 0],
        [0, 4],
      ],
    ]);
    expect(maxAbsDiff(arr(l2Normalize(z, [1, 2])), [0.6, 0, 0, 0.8])).toBeLessThan(TOL);
    expect(maxAbsDiff(arr(l2Normalize(z, [2])), [1, 0, 0, 1])).toBeLessThan(TOL);
  });

  it('gives masked positions no attention weight', () => {
    const logits = tf.tensor2d([[5, 1, 100, 2]]);
    const mask = tf.tensor2d([[1, 1, 0, 1]]);
    const w = arr(softmaxMasked(o, logits, mask, 1));
    const ex = [Math.exp(5), Math.exp(1), 0, Math.exp(2)];
    const s = ex.reduce((a, b) => a + b);
    expect(
      maxAbsDiff(
        w,
        ex.map((v) => v / s),
      ),
    ).toBeLessThan(TOL);
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
    const got = arr(mfb.forward(o, tf.tensor2d([x]), tf.tensor2d([y])));
    const want = mfbReference(x, y, as2d(mfb.projectX.w), arr(mfb.projectX.b), as2d(mfb.projectY.w), arr(mfb.projectY.b), 4, 6);
    expect(maxAbsDiff(got, want)).toBeLessThan(TOL);
    store.dispose();
  });

  it('with k = 1 is the Hadamard low-rank bilinear form (MLB) with normalisation', () => {
    const store = new ParamStore(5);
    const mfb = new Mfb(store, 'm', 4, 4, { k: 1, o: 7, dropout: 0 });
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 1);
    const y = tf.randomNormal([3, 4], 0, 1, 'float32', 2);
    const hadamard = tf.mul(mfb.projectX.forward(o, x), mfb.projectY.forward(o, y));
    const want = l2Normalize(tf.mul(tf.sign(hadamard), tf.sqrt(tf.abs(hadamard))), [-1]);
    expect(maxAbsDiff(arr(mfb.forward(o, x, y)), arr(want))).toBeLessThan(TOL);
    store.dispose();
  });

  it('applies dropout only in training', () => {
    const store = new ParamStore(6);
    const mfb = new Mfb(store, 'm', 4, 4, { k: 2, o: 50, dropout: 0.5 });
    const x = tf.ones([1, 4]);
    const y = tf.ones([1, 4]);
    expect(arr(mfb.forward(o, x, y))).toEqual(arr(mfb.forward(o, x, y)));
    expect(maxAbsDiff(arr(mfb.forward(training, x, y)), arr(mfb.forward(o, x, y)))).toBeGreaterThan(1e-3);
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
    const got = mfh.forward(o, x, y);
    expect(got.shape).toEqual([2, 10]);
    expect(maxAbsDiff(arr(got), arr(want))).toBeLessThan(TOL);
    store.dispose();
  });
});

describe('the bilinear family', () => {
  const shape = { k: 3, o: 4, dropout: 0 };

  it('lowrank equals a linear map of the full bilinear feature with W_i = U_i V_iᵀ', () => {
    const store = new ParamStore(8);
    const low = new LowRankBilinearFusion(store, 'l', 5, 6, shape);
    const x = tf.randomNormal([2, 5], 0, 1, 'float32', 5);
    const y = tf.randomNormal([2, 6], 0, 1, 'float32', 6);
    // W_i = Σ_j U[:, i·k + j] V[:, i·k + j]ᵀ, flattened row-major like vec(x yᵀ)
    const u = low.u.arraySync() as number[][];
    const v = low.v.arraySync() as number[][];
    const w: number[][] = []; // [o][m·n]
    for (let i = 0; i < 4; i++) {
      const row: number[] = [];
      for (let a = 0; a < 5; a++) for (let b = 0; b < 6; b++) row.push([0, 1, 2].reduce((acc, j) => acc + u[a]![i * 3 + j]! * v[b]![i * 3 + j]!, 0));
      w.push(row);
    }
    const want = tf.matMul(outerProduct(o, x, y, 5, 6), tf.tensor2d(w), false, true);
    expect(maxAbsDiff(arr(low.forward(o, x, y)), arr(want))).toBeLessThan(1e-4);
    store.dispose();
  });

  it('bilinear is vec(x yᵀ) with signed sqrt and L2 norm, and refuses sizes that would not fit', () => {
    const fusion = new BilinearFusion(2, 3, 0);
    const got = arr(fusion.forward(o, tf.tensor2d([[1, -2]]), tf.tensor2d([[3, 0.5, -1]])));
    const outer = [3, 0.5, -1, -6, -1, 2].map((v) => Math.sign(v) * Math.sqrt(Math.abs(v)));
    const norm = Math.sqrt(outer.reduce((a, b) => a + b * b, 0));
    expect(
      maxAbsDiff(
        got,
        outer.map((v) => v / norm),
      ),
    ).toBeLessThan(TOL);
    expect(() => new BilinearFusion(4096, 2048, 0)).toThrow(/4096×2048 = 8388608 features per sample/);
  });

  it('concat is an MLP over [x; y] and product multiplies the two projections', () => {
    const store = new ParamStore(9);
    const concat = new ConcatFusion(store, 'c', 3, 2, shape);
    const product = new ProductFusion(store, 'p', 3, 2, shape);
    const x = tf.tensor2d([[0.5, -1, 2]]);
    const y = tf.tensor2d([[1, 3]]);
    const dense = (name: string, v: tf.Tensor) => tf.add(tf.matMul(v, store.get(`${name}.w`)), store.get(`${name}.b`));
    const wantConcat = dense('c.out', tf.relu(dense('c.hidden', tf.concat([x, y], 1))));
    expect(maxAbsDiff(arr(concat.forward(o, x, y)), arr(wantConcat))).toBeLessThan(TOL);
    expect(maxAbsDiff(arr(product.forward(o, x, y)), arr(tf.mul(dense('p.x', x), dense('p.y', y))))).toBeLessThan(TOL);
    store.dispose();
  });

  for (const kind of FUSION_KINDS) {
    it(`${kind} serves as the final fusion of the network`, () => {
      const cfg = tinyConfig({
        model: { fusion: { kind, k: 2, o: 8 }, d: 8, language: { maxTokens: 3, layers: 1, heads: 2 }, attention: { k: 2, o: 4, hidden: 4, glimpses: 1 } },
      }).model;
      const net = new VqaNet(cfg, 10, 5, 1);
      const out = net.forward(training, {
        images: tf.randomNormal([2, 24, 24, 3]) as tf.Tensor4D,
        imageIndex: tf.tensor1d([0, 1, 1], 'int32'),
        tokens: tf.tensor2d(
          [
            [1, 2, 3],
            [4, 5, 0],
            [6, 0, 0],
          ],
          [3, 3],
          'int32',
        ),
        mask: tf.tensor2d([
          [1, 1, 1],
          [1, 1, 0],
          [1, 0, 0],
        ]),
      });
      expect(out.logits.shape).toEqual([3, 5]);
      expect(arr(out.logits).every(Number.isFinite)).toBe(true);
      net.dispose();
    });
  }
});

describe('L2 normalisation at zero', () => {
  it('has a finite gradient when the whole vector is zero (a blind model feeds zeros)', () => {
    const g = arr(tf.grad((z: tf.Tensor) => tf.sum(l2Normalize(z, [-1])))(tf.zeros([2, 3])));
    expect(g.every(Number.isFinite)).toBe(true);
  });
});
