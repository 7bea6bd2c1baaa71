import { beforeAll, describe, expect, it } from 'vitest';
import { disableNativeKernels } from '../src/backend/native_kernels.ts';
import { tf } from '../src/backend/tf.ts';
import { useWasm, maxAbsDiff } from './helpers.ts';
import { Rng } from '../src/util/rng.ts';

// The wasm kernels the project registers must agree with the cpu backend's own kernels.
const TOLERANCE = 1e-4; // float32 sums of up to a few hundred products of N(0,1) values

function randomArray(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

async function onBackend(name: string, f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(name);
  const t = f();
  const out = (await t.data()) as Float32Array;
  t.dispose();
  return out;
}

// The composed kernels are tested on their own: the native BLAS kernels (tested in native_kernels.test.ts) are set aside.
beforeAll(async () => {
  await useWasm();
  disableNativeKernels();
});

describe('Conv2DBackpropFilter on wasm', () => {
  const cases = [
    { batch: 1, h: 7, w: 5, cin: 3, cout: 4, k: 3, stride: 1, pad: 'same' as const },
    { batch: 2, h: 9, w: 9, cin: 3, cout: 5, k: 3, stride: 2, pad: 'same' as const },
    { batch: 3, h: 8, w: 11, cin: 2, cout: 3, k: 3, stride: 2, pad: 'valid' as const },
    { batch: 1, h: 13, w: 13, cin: 4, cout: 2, k: 5, stride: 2, pad: 'valid' as const },
    { batch: 2, h: 6, w: 6, cin: 5, cout: 6, k: 1, stride: 1, pad: 'valid' as const },
    { batch: 4, h: 10, w: 7, cin: 3, cout: 3, k: 3, stride: 1, pad: 'valid' as const },
    { batch: 1, h: 15, w: 15, cin: 2, cout: 8, k: 3, stride: 2, pad: 'same' as const },
  ];
  for (const c of cases) {
    it(`matches cpu for ${JSON.stringify(c)}`, async () => {
      const rng = new Rng(c.batch * 100 + c.h + c.k);
      const x = randomArray(rng, c.batch * c.h * c.w * c.cin);
      const filter = randomArray(rng, c.k * c.k * c.cin * c.cout);
      const dW = () =>
        tf.tidy(() => {
          const xt = tf.tensor4d(x, [c.batch, c.h, c.w, c.cin]);
          const f = tf.tensor4d(filter, [c.k, c.k, c.cin, c.cout]);
          // d/dW of Σ conv(x, W)·R for a fixed R exercises Conv2DBackpropFilter with dy = R.
          const y = tf.conv2d(xt, f, c.stride, c.pad);
          const r = tf.tensor(randomArray(new Rng(7), y.size), y.shape);
          return tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xt, w as tf.Tensor4D, c.stride, c.pad), r)))(f);
        });
      const cpu = await onBackend('cpu', dW);
      const before = tf.memory().numTensors;
      const wasm = await onBackend('wasm', dW);
      expect(tf.memory().numTensors).toBe(before);
      expect(wasm.length).toBe(cpu.length);
      expect(maxAbsDiff(wasm, cpu)).toBeLessThan(TOLERANCE);
    });
  }
});

describe('UnsortedSegmentSum on wasm', () => {
  it('matches cpu as the gradient of gather (embeddings) and directly', async () => {
    const rng = new Rng(3);
    const table = randomArray(rng, 11 * 6);
    const ids = Int32Array.from({ length: 40 }, () => rng.int(0, 11));
    const gatherGrad = () =>
      tf.tidy(() => {
        const t = tf.tensor2d(table, [11, 6]);
        const weights = tf.tensor(randomArray(new Rng(5), 40 * 6), [40, 6]);
        return tf.grad((e: tf.Tensor) => tf.sum(tf.mul(tf.gather(e, tf.tensor1d(ids, 'int32')), weights)))(t);
      });
    const direct = () => tf.tidy(() => tf.unsortedSegmentSum(tf.tensor3d(randomArray(new Rng(9), 40 * 2 * 3), [40, 2, 3]), tf.tensor1d(ids, 'int32'), 13));
    for (const f of [gatherGrad, direct]) {
      const cpu = await onBackend('cpu', f);
      const before = tf.memory().numTensors;
      const wasm = await onBackend('wasm', f);
      expect(tf.memory().numTensors).toBe(before);
      expect(maxAbsDiff(wasm, cpu)).toBeLessThan(TOLERANCE);
    }
  });
});
