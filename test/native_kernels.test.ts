import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { blasThreadsFromEnv, disableNativeKernels, enableNativeKernels, loadNativeBlas, NATIVE_KERNELS, nativeKernelsActive } from '../src/backend/native_kernels.ts';
import { tf } from '../src/backend/tf.ts';
import { Rng } from '../src/util/rng.ts';
import { maxAbsDiff, useWasm } from './helpers.ts';

// The native BLAS kernels must agree with the cpu backend's own kernels: float32 sums of up to a few
// hundred products of values in [-1, 1], in another order, so 1e-4.
const TOLERANCE = 1e-4;

/** Whether this machine can build and run the addon (a C compiler and OpenBLAS's shared library) and it is not switched off. */
function machineHasCompilerAndOpenBlas(): boolean {
  if (process.env.VQA_NATIVE === '0') return false;
  const cc = spawnSync(process.env.CC ?? 'cc', ['--version']).status === 0;
  const libs = spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' }).stdout ?? '';
  // the library the cache names must be there too (a cache can outlive a removed package)
  const openBlas = [...libs.matchAll(/libopenblas\.so\.0 .*=> (\S+)/g)].some(([, file]) => fs.existsSync(file!));
  return cc && openBlas && fs.existsSync('/usr/include/node/node_api.h');
}

function randomArray(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

async function onBackend(name: string, f: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(name);
  const out = tf.tidy(f);
  const list = Array.isArray(out) ? out : [out];
  const data = await Promise.all(list.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(list);
  return data;
}

/** Runs f on cpu and on wasm (native kernels), compares every output, and checks no tensor is left. */
async function expectSameAsCpu(f: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const cpu = await onBackend('cpu', f);
  const before = tf.memory().numTensors;
  const wasm = await onBackend('wasm', f);
  expect(tf.memory().numTensors).toBe(before);
  wasm.forEach((w, i) => {
    expect(w.length).toBe(cpu[i]!.length);
    expect(maxAbsDiff(w, cpu[i]!)).toBeLessThan(TOLERANCE);
  });
}

const available = loadNativeBlas();
// Vitest counts skipped tests without a reason: say why the comparisons with cpu below do not run here.
if (typeof available === 'string') console.warn(`native-kernel comparisons skipped on this machine: ${available} (apt-get install libopenblas0-pthread runs them)`);

beforeAll(useWasm);

describe('the native kernels', () => {
  it('are built and find OpenBLAS wherever the machine has a C compiler and OpenBLAS; otherwise say why', () => {
    if (machineHasCompilerAndOpenBlas()) {
      expect(typeof available).toBe('object');
      expect(nativeKernelsActive()).toBe(true);
      expect(enableNativeKernels()).toMatch(/^OpenBLAS \S+ from \S+, \d+ threads?$/);
    } else {
      expect(typeof available).toBe('string');
      expect(nativeKernelsActive()).toBe(false);
    }
  });

  it('says why when the BLAS it is pointed at is not there, and the wasm kernels compute instead', () => {
    const script = `
      const { selectBackend, describeBackend } = await import('./src/backend/select.ts');
      const { tf } = await import('./src/backend/tf.ts');
      console.log(describeBackend(await selectBackend('wasm')));
      console.log(tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0]);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, VQA_BLAS_LIBRARY: '/nonexistent/libblas.so' },
    });
    expect(r.status, r.stderr).toBe(0);
    const [line, product] = r.stdout.trim().split('\n');
    expect(line).toMatch(/^backend wasm .*; native kernels: (no optimized BLAS found \(tried VQA_BLAS_LIBRARY=\/nonexistent\/libblas\.so\)|not built .*|off .*)$/);
    if (typeof available === 'object') expect(line).toMatch(/no optimized BLAS found/);
    expect(Number(product)).toBe(11);
  });

  it('take their thread count from OPENBLAS_NUM_THREADS where it is set, every core otherwise or at 0, and refuse a bad one', () => {
    const cores = os.availableParallelism();
    expect(blasThreadsFromEnv({})).toBe(cores);
    expect(blasThreadsFromEnv({ OPENBLAS_NUM_THREADS: ' ' })).toBe(cores);
    expect(blasThreadsFromEnv({ OPENBLAS_NUM_THREADS: '0' })).toBe(cores);
    expect(blasThreadsFromEnv({ OPENBLAS_NUM_THREADS: '1' })).toBe(1);
    expect(blasThreadsFromEnv({ OPENBLAS_NUM_THREADS: '3' })).toBe(3);
    for (const bad of ['-2', '1.5', 'two']) {
      expect(() => blasThreadsFromEnv({ OPENBLAS_NUM_THREADS: bad })).toThrow(`OPENBLAS_NUM_THREADS=${bad}: expected a whole number of threads (0 for every core)`);
    }
  });

  it('a malformed OPENBLAS_NUM_THREADS stops backend selection with its message (auto does not fall back to cpu)', () => {
    const script = `const { selectBackend } = await import('./src/backend/select.ts'); await selectBackend('auto');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: 'x' } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('OPENBLAS_NUM_THREADS=x: expected a whole number of threads (0 for every core)');
  });

  it('can be switched off and on: the wasm kernels come back in between', () => {
    if (typeof available === 'string') return expect(enableNativeKernels()).toBe(available);
    const native = NATIVE_KERNELS.map((k) => tf.getKernel(k, 'wasm')!.kernelFunc);
    disableNativeKernels();
    expect(nativeKernelsActive()).toBe(false);
    NATIVE_KERNELS.forEach((k, i) => expect(tf.getKernel(k, 'wasm')!.kernelFunc).not.toBe(native[i]));
    enableNativeKernels();
    expect(nativeKernelsActive()).toBe(true);
  });
});

describe.runIf(typeof available === 'object')('native kernels match cpu', () => {
  const rng = new Rng(17);
  const matmuls: [string, number[], number[], boolean, boolean][] = [
    ['plain', [5, 7], [7, 3], false, false],
    ['transposeA', [7, 5], [7, 3], true, false],
    ['transposeB', [5, 7], [3, 7], false, true],
    ['both transposed', [7, 5], [3, 7], true, true],
    ['batched rank 4', [2, 3, 5, 7], [2, 3, 7, 4], false, false],
    ['batched, transposeB', [4, 6, 8], [4, 5, 8], false, true],
    ['one matrix broadcast on the right', [3, 5, 7], [7, 4], false, false],
    ['one matrix broadcast on the left', [5, 7], [3, 7, 4], false, false],
    ['batch broadcast [1, …]', [1, 5, 7], [3, 7, 2], false, false],
  ];
  it.each(matmuls)('matMul, %s', async (_name, aShape, bShape, ta, tb) => {
    const a = randomArray(
      rng,
      aShape.reduce((x, y) => x * y),
    );
    const b = randomArray(
      rng,
      bShape.reduce((x, y) => x * y),
    );
    await expectSameAsCpu(() => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), ta, tb));
  });

  const convs = [
    { batch: 2, h: 9, w: 9, cin: 3, cout: 4, k: 3, stride: 1, pad: 'same' as const },
    { batch: 2, h: 8, w: 8, cin: 5, cout: 6, k: 3, stride: 2, pad: 'same' as const }, // padding 0 before, 1 after
    { batch: 3, h: 8, w: 11, cin: 2, cout: 3, k: 3, stride: 2, pad: 'valid' as const },
    { batch: 1, h: 13, w: 13, cin: 4, cout: 2, k: 5, stride: 2, pad: 'valid' as const },
    { batch: 2, h: 6, w: 6, cin: 5, cout: 6, k: 1, stride: 1, pad: 'valid' as const },
    { batch: 1, h: 15, w: 12, cin: 2, cout: 8, k: 3, stride: 2, pad: 'same' as const },
  ];
  it.each(convs)('conv2d and both its gradients, %j', async (c) => {
    const x = randomArray(rng, c.batch * c.h * c.w * c.cin);
    const filter = randomArray(rng, c.k * c.k * c.cin * c.cout);
    await expectSameAsCpu(() => {
      const xt = tf.tensor4d(x, [c.batch, c.h, c.w, c.cin]);
      const f = tf.tensor4d(filter, [c.k, c.k, c.cin, c.cout]);
      const y = tf.conv2d(xt, f, c.stride, c.pad);
      const r = tf.tensor(randomArray(new Rng(7), y.size), y.shape);
      // d/dx and d/dW of Σ conv(x, W)·R run Conv2DBackpropInput and Conv2DBackpropFilter with dy = R.
      const [dx, dw] = tf.grads((xi: tf.Tensor, wi: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.stride, c.pad), r)))([xt, f]);
      return [y, dx!, dw!];
    });
  });

  it('leaves dilated convolutions to the wasm kernel, with the same result as cpu', async () => {
    const x = randomArray(rng, 2 * 9 * 9 * 3);
    const f = randomArray(rng, 3 * 3 * 3 * 2);
    await expectSameAsCpu(() => tf.conv2d(tf.tensor4d(x, [2, 9, 9, 3]), tf.tensor4d(f, [3, 3, 3, 2]), 1, 'same', 'NHWC', 2));
  });
});

describe.runIf(typeof available === 'object')('native Sum matches cpu', () => {
  const rng = new Rng(23);
  const sums: [string, number[], number | number[], boolean][] = [
    ['leading axis (bias gradients)', [37, 19], 0, false],
    ['last axis (MFB sum pooling)', [3, 4, 6, 5], -1, false],
    ['a middle axis, kept', [5, 9, 7], 1, true],
    ['two middle axes', [2, 3, 4, 5, 6], [1, 2], false],
    ['all axes', [4, 33], [0, 1], false],
    ['no axis given (all)', [3, 5, 2], null as unknown as number, false],
    ['a long row (the 8-lane path)', [2, 1001], 1, false],
    ['non-contiguous axes (left to wasm)', [3, 4, 5], [0, 2], true],
  ];
  it.each(sums)('sum over %s', async (_name, shape, axis, keepDims) => {
    const x = randomArray(
      rng,
      shape.reduce((a, b) => a * b),
    );
    await expectSameAsCpu(() => tf.sum(tf.tensor(x, shape), axis, keepDims));
  });
});

describe.runIf(typeof available === 'object')('native kernels and a growing wasm heap', () => {
  // A tensor made on another backend is copied into the wasm heap when a kernel first looks it up;
  // a large one grows the heap, which replaces its buffer and empties every view taken before. The
  // inputs here are made on cpu, so each kernel moves them (and grows the heap) while it runs.
  const rng = new Rng(31);
  const big = 6_000_000; // 24 MB per input: more than the heap has free, so it must grow

  /** f's inputs made on cpu, f run on wasm; its result compared with the same on cpu. */
  async function movedIntoTheHeap(shapes: number[][], f: (...ts: tf.Tensor[]) => tf.Tensor): Promise<void> {
    const data = shapes.map((s) =>
      randomArray(
        rng,
        s.reduce((a, b) => a * b, 1),
      ),
    );
    await tf.setBackend('cpu');
    const expected = tf.tidy(() => f(...data.map((d, i) => tf.tensor(d, shapes[i]))));
    const want = (await expected.data()) as Float32Array;
    const onCpu = data.map((d, i) => tf.tensor(d, shapes[i]));
    const heapBefore = (tf.findBackend('wasm') as unknown as { wasm: { HEAPF32: Float32Array } }).wasm.HEAPF32.buffer.byteLength;
    await tf.setBackend('wasm');
    const got = f(...onCpu);
    const values = (await got.data()) as Float32Array;
    const heapAfter = (tf.findBackend('wasm') as unknown as { wasm: { HEAPF32: Float32Array } }).wasm.HEAPF32.buffer.byteLength;
    tf.dispose([expected, got, ...onCpu]);
    expect(values.length).toBe(want.length);
    // The large filter gradients sum 512,000 products, so the error is relative to the largest value.
    const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
    expect(maxAbsDiff(values, want) / scale).toBeLessThan(TOLERANCE);
    expect(heapAfter).toBeGreaterThanOrEqual(heapBefore);
  }

  it('matMul whose operands are moved in (and the heap grown) inside the kernel', async () => {
    await movedIntoTheHeap(
      [
        [10, 256],
        [256, 32],
      ],
      (a, b) => tf.matMul(a!, b!),
    );
    await movedIntoTheHeap(
      [
        [big / 1000, 1000],
        [1000, 4],
      ],
      (a, b) => tf.matMul(a!, b!, false, false),
    );
  });

  it('conv2d and its gradients whose operands are moved in inside the kernel', async () => {
    await movedIntoTheHeap(
      [
        [2, 9, 9, 3],
        [3, 3, 3, 4],
      ],
      (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'),
    );
    await movedIntoTheHeap(
      [
        [500, 64, 64, 3],
        [3, 3, 3, 2],
      ],
      (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'),
    );
    // d/dx and d/dW of Σ conv(x, W)·R: Conv2DBackpropInput and Conv2DBackpropFilter with dy = R.
    const gradients = (x: tf.Tensor, w: tf.Tensor, r: tf.Tensor) => {
      const [dx, dw] = tf.grads((xi: tf.Tensor, wi: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, 2, 'same'), r)))([x, w]);
      return tf.concat([tf.reshape(dx!, [-1]), tf.reshape(dw!, [-1])]);
    };
    await movedIntoTheHeap(
      [
        [2, 9, 9, 3],
        [3, 3, 3, 4],
        [2, 5, 5, 4],
      ],
      (x, w, r) => gradients(x!, w!, r!),
    );
    await movedIntoTheHeap(
      [
        [500, 64, 64, 3],
        [3, 3, 3, 2],
        [500, 32, 32, 2],
      ],
      (x, w, r) => gradients(x!, w!, r!),
    );
  });

  it('sum whose input is moved in inside the kernel', async () => {
    await movedIntoTheHeap([[big / 1000, 1000]], (x) => tf.sum(x!, 1));
  });
});
