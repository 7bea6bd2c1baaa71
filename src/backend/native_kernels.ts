// Optional native kernels for the wasm backend: matrix products and convolutions computed by the
// system's optimized BLAS, and sums over contiguous axes (wasm transposes first) (native/vqa_blas.c, built at install when a C compiler is present)
// directly on the tensors in the wasm heap. Shapes or attributes they do not cover go to the
// kernel they replace.
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from './tf.ts';
import { paddingOf, type Pad } from './conv_padding.ts';

interface NativeBlas {
  sgemm(
    transA: boolean,
    transB: boolean,
    batch: number,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    strideA: number,
    b: Float32Array,
    strideB: number,
    c: Float32Array,
  ): void;
  im2col(image: Float32Array, cols: Float32Array, ...shape: ConvShape): void;
  col2im(image: Float32Array, cols: Float32Array, ...shape: ConvShape): void;
  sumAxes(x: Float32Array, outer: number, reduce: number, inner: number, out: Float32Array): void;
  setThreads(n: number): void;
  library: string;
  config: string;
}

/** n, h, w, c, kh, kw, strideH, strideW, padTop, padLeft, outH, outW */
type ConvShape = [number, number, number, number, number, number, number, number, number, number, number, number];

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackend {
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  wasm: { HEAPF32: Float32Array };
}

const ADDON = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'native', 'build', 'vqa_blas.node');

/** The addon, or why it is not usable. */
export function loadNativeBlas(): NativeBlas | string {
  if (process.env.VQA_NATIVE === '0') return 'off (VQA_NATIVE=0)';
  let addon: Partial<NativeBlas> & { missing?: string };
  try {
    addon = createRequire(import.meta.url)(ADDON) as typeof addon;
  } catch (err) {
    return `not built (${(err as Error).message.split('\n')[0]}); npm install builds it when a C compiler is present`;
  }
  return addon.missing ?? (addon as NativeBlas);
}

/**
 * Float32 views of the tensors in the wasm heap. Looking a tensor up can move its data into the
 * heap (a tensor made on another backend), and a growing heap replaces its buffer, which empties
 * every view taken before: so every tensor is looked up first, then all views are taken at once.
 */
function heapViews(backend: WasmBackend, tensors: tf.TensorInfo[]): Float32Array[] {
  const offsets = tensors.map((t) => backend.dataIdMap.get(t.dataId)!.memoryOffset);
  const heap = backend.wasm.HEAPF32.buffer;
  return tensors.map(
    (t, i) =>
      new Float32Array(
        heap,
        offsets[i],
        t.shape.reduce((a, b) => a * b, 1),
      ),
  );
}

/** Allocates the output, then views it and the inputs together (see heapViews) and fills it. */
function withOutput(backend: WasmBackend, shape: number[], inputs: tf.TensorInfo[], fill: (out: Float32Array, ...ins: Float32Array[]) => void): tf.TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  if (shape.every((d) => d > 0)) {
    const [outView, ...inViews] = heapViews(backend, [out, ...inputs]);
    fill(outView!, ...inViews);
  }
  return out;
}

let scratch = new Float32Array(0);
function columns(size: number): Float32Array {
  if (scratch.length < size) scratch = new Float32Array(size);
  return scratch.subarray(0, size);
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };
type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

const pair = (v: number | number[]) => (typeof v === 'number' ? [v, v] : v) as [number, number];

interface ConvAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat: string;
  dilations?: number | [number, number];
  dimRoundingMode?: string;
}

/** The convolution's geometry, or undefined where the native path does not apply. */
function convShape(x: number[], kh: number, kw: number, attrs: ConvAttrs): ConvShape | undefined {
  const [sh, sw] = pair(attrs.strides);
  if (attrs.dataFormat !== 'NHWC' || pair(attrs.dilations ?? 1).some((d) => d !== 1) || attrs.dimRoundingMode) return undefined;
  const [n, h, w, c] = x as [number, number, number, number];
  const [[pt, pb], [pl, pr]] = paddingOf(attrs.pad, h, w, kh, kw, sh, sw);
  const ho = Math.floor((h + pt + pb - kh) / sh) + 1;
  const wo = Math.floor((w + pl + pr - kw) / sw) + 1;
  return ho > 0 && wo > 0 ? [n, h, w, c, kh, kw, sh, sw, pt, pl, ho, wo] : undefined;
}

function kernels(blas: NativeBlas, original: (name: string) => KernelFn): Record<string, KernelFn> {
  return {
    BatchMatMul: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
      const [ra, ca] = a.shape.slice(-2) as [number, number];
      const [rb, cb] = b.shape.slice(-2) as [number, number];
      const [m, k, n] = [transposeA ? ca : ra, transposeA ? ra : ca, transposeB ? rb : cb];
      const outerA = a.shape.slice(0, -2);
      const outerB = b.shape.slice(0, -2);
      const batchA = outerA.reduce((x, y) => x * y, 1);
      const batchB = outerB.reduce((x, y) => x * y, 1);
      const sameOuter = outerA.join() === outerB.join();
      // Equal batch shapes, or one side a single matrix (broadcast); anything else goes to wasm.
      if (a.dtype !== 'float32' || b.dtype !== 'float32' || (!sameOuter && batchA !== 1 && batchB !== 1) || a.shape.length < 2 || b.shape.length < 2)
        return original('BatchMatMul')(args);
      const outer = sameOuter || batchB === 1 ? outerA : outerB;
      const batch = Math.max(batchA, batchB);
      return withOutput(args.backend as WasmBackend, [...outer, m, n], [a, b], (out, av, bv) =>
        blas.sgemm(transposeA, transposeB, batch, m, n, k, av!, batchA === 1 ? 0 : m * k, bv!, batchB === 1 ? 0 : k * n, out),
      );
    },
    Sum: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { axis, keepDims } = args.attrs as { axis: number | number[] | null; keepDims: boolean };
      const rank = x.shape.length;
      const listed = axis === null ? x.shape.map((_, i) => i) : typeof axis === 'number' ? [axis] : axis; // null: every axis
      const axes = [...new Set(listed.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
      // A contiguous block of axes [first, last]: out[o, i] = Σ_r x[o, r, i].
      const [first, last] = [axes[0], axes.at(-1)];
      if (x.dtype !== 'float32' || first === undefined || last === undefined || last - first + 1 !== axes.length) return original('Sum')(args);
      const size = (from: number, to: number) => x.shape.slice(from, to).reduce((p, q) => p * q, 1);
      const shape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
      if (size(0, rank) === 0) return original('Sum')(args);
      return withOutput(args.backend as WasmBackend, shape, [x], (out, xv) => blas.sumAxes(xv!, size(0, first), size(first, last + 1), size(last + 1, rank), out));
    },
    Conv2D: (args) => {
      const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
      const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
      const s = convShape(x.shape, kh, kw, args.attrs as unknown as ConvAttrs);
      if (!s || x.dtype !== 'float32') return original('Conv2D')(args);
      const rows = s[0] * s[10] * s[11];
      return withOutput(args.backend as WasmBackend, [s[0], s[10], s[11], cout], [x, filter], (out, xv, fv) => {
        const cols = columns(rows * kh * kw * cin);
        blas.im2col(xv!, cols, ...s);
        blas.sgemm(false, false, 1, rows, cout, kh * kw * cin, cols, 0, fv!, 0, out);
      });
    },
    Conv2DBackpropInput: (args) => {
      const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const attrs = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
      const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
      const s = convShape(attrs.inputShape, kh, kw, attrs);
      if (!s || s[10] !== dy.shape[1] || s[11] !== dy.shape[2]) return original('Conv2DBackpropInput')(args);
      const rows = s[0] * s[10] * s[11];
      return withOutput(args.backend as WasmBackend, attrs.inputShape, [dy, filter], (dx, dyv, fv) => {
        const cols = columns(rows * kh * kw * cin);
        blas.sgemm(false, true, 1, rows, kh * kw * cin, cout, dyv!, 0, fv!, 0, cols); // dy · Wᵀ
        blas.col2im(dx, cols, ...s);
      });
    },
    Conv2DBackpropFilter: (args) => {
      const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const attrs = args.attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
      const [kh, kw, cin, cout] = attrs.filterShape;
      const s = convShape(x.shape, kh, kw, attrs);
      if (!s || s[10] !== dy.shape[1] || s[11] !== dy.shape[2]) return original('Conv2DBackpropFilter')(args);
      const rows = s[0] * s[10] * s[11];
      return withOutput(args.backend as WasmBackend, attrs.filterShape, [x, dy], (dw, xv, dyv) => {
        const cols = columns(rows * kh * kw * cin);
        blas.im2col(xv!, cols, ...s);
        blas.sgemm(true, false, 1, kh * kw * cin, cout, rows, cols, 0, dyv!, 0, dw); // colsᵀ · dy
      });
    },
  };
}

export const NATIVE_KERNELS = ['BatchMatMul', 'Sum', 'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] as const;

const replaced = new Map<string, tf.KernelConfig>();
let active: NativeBlas | undefined;

/**
 * The BLAS thread count: OPENBLAS_NUM_THREADS where it is set (so that runs side by side can take
 * one core each: the library's own reading of it is overridden by setThreads), else every core;
 * 0 means every core, as it does to OpenBLAS.
 */
export function blasThreadsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const set = env.OPENBLAS_NUM_THREADS?.trim();
  if (!set) return os.availableParallelism();
  const threads = Number(set);
  if (!Number.isInteger(threads) || threads < 0) throw new Error(`OPENBLAS_NUM_THREADS=${set}: expected a whole number of threads (0 for every core)`);
  return threads === 0 ? os.availableParallelism() : threads;
}

/**
 * Puts the native kernels in place of the wasm backend's (after the wasm training kernels are
 * registered); `threads` is the BLAS's thread count. Returns what runs, or why nothing does.
 */
export function enableNativeKernels(threads = blasThreadsFromEnv()): string {
  const blas = active ?? loadNativeBlas();
  if (typeof blas === 'string') return blas;
  blas.setThreads(threads);
  if (!active) {
    const original = (name: string) => replaced.get(name)!.kernelFunc as KernelFn;
    for (const [name, kernelFunc] of Object.entries(kernels(blas, original))) {
      replaced.set(name, tf.getKernel(name, 'wasm')!);
      tf.unregisterKernel(name, 'wasm');
      tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
    }
    active = blas;
  }
  return `${blas.config.split(' ').slice(0, 2).join(' ')} from ${blas.library}, ${threads} thread${threads === 1 ? '' : 's'}`;
}

/** Puts the replaced wasm kernels back (for parity tests and benchmarks). */
export function disableNativeKernels(): void {
  for (const [name, config] of replaced) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
  }
  replaced.clear();
  active = undefined;
}

/** Whether the native kernels are in place: transposed products then cost nothing extra. */
export function nativeKernelsActive(): boolean {
  return active !== undefined;
}
