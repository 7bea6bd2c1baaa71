// Numerical parity of a backend against tfjs's cpu backend on the operations training uses,
// and on whole training gradients of a small model. Shared by the tests (wasm) and the GPU check.
import { tf } from '../src/backend/tf.ts';
import { Rng } from '../src/util/rng.ts';
import { parseRunConfig } from '../src/config/config.ts';
import { VqaNet } from '../src/model/net.ts';
import { matMul, training } from '../src/nn/eager_ops.ts';
import { klLoss } from '../src/train/loss.ts';

export interface ParityCase {
  name: string;
  /** relative tolerance on ‖target − cpu‖ / ‖cpu‖ */
  tolerance: number;
  run: () => tf.Tensor;
}

export interface ParityResult {
  name: string;
  relativeError: number;
  maxAbsError: number;
  tolerance: number;
  ok: boolean;
}

const rand = (seed: number, shape: number[]) => {
  const rng = new Rng(seed);
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1),
    shape,
  );
};

const FLOAT32 = 1e-4; // single kernels: float32 sums of at most a few thousand terms
const NETWORK = 1e-3; // whole-network gradients: many kernels' rounding compounded

function convCase(stride: number, pad: 'same' | 'valid', which: 'forward' | 'filter' | 'input'): ParityCase {
  return {
    name: `conv2d ${which} stride ${stride} ${pad}`,
    tolerance: FLOAT32,
    run: () =>
      tf.tidy(() => {
        const x = rand(1, [2, 11, 9, 3]) as tf.Tensor4D;
        const w = rand(2, [3, 3, 3, 8]) as tf.Tensor4D;
        if (which === 'forward') return tf.conv2d(x, w, stride, pad);
        const r = rand(3, tf.conv2d(x, w, stride, pad).shape);
        const f = (xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, stride, pad), r));
        const [gx, gw] = tf.grads(f)([x, w]);
        return which === 'filter' ? gw! : gx!;
      }),
  };
}

function networkCase(): ParityCase {
  return {
    name: 'VQA network: logits and all parameter gradients',
    tolerance: NETWORK,
    run: () => {
      const cfg = parseRunConfig(
        {
          model: {
            imageSize: 24,
            d: 16,
            vision: { channels: [8, 16], strides: [2, 2] },
            language: { maxTokens: 8, layers: 1, heads: 2 },
            attention: { hidden: 16, k: 2, o: 8 },
            fusion: { kind: 'mfh', k: 2, o: 16 },
            dropout: 0,
          },
        },
        'parity',
      ).model;
      const net = new VqaNet(cfg, 20, 10, 1);
      try {
        net.store.entries().forEach(([, v], i) => tf.tidy(() => v.assign(tf.mul(rand(100 + i, v.shape), 0.5))));
        return tf.tidy(() => {
          const inputs = {
            images: rand(7, [3, 24, 24, 3]) as tf.Tensor4D,
            imageIndex: tf.tensor1d([0, 0, 1, 2, 2, 2], 'int32'),
            tokens: tf.tensor2d(
              Int32Array.from({ length: 48 }, (_, i) => (i * 7) % 20),
              [6, 8],
              'int32',
            ),
            mask: tf.tensor2d(
              Float32Array.from({ length: 48 }, (_, i) => (i % 8 < 3 + (i % 5) ? 1 : 0)),
              [6, 8],
            ),
          };
          const targets = tf.div(tf.abs(rand(8, [6, 10])), 3) as tf.Tensor2D;
          const params = net.store
            .entries()
            .filter(([, v]) => v.trainable)
            .map(([, v]) => v);
          const { value, grads } = tf.variableGrads(() => klLoss(net.forward(training, inputs).logits as tf.Tensor2D, targets), params);
          return tf.concat([tf.reshape(value, [1]), ...params.map((p) => tf.reshape(grads[p.name]!, [-1]))]);
        });
      } finally {
        net.dispose();
      }
    },
  };
}

export function parityCases(): ParityCase[] {
  return [
    { name: 'matMul', tolerance: FLOAT32, run: () => tf.tidy(() => tf.matMul(rand(1, [33, 70]), rand(2, [70, 17]))) },
    {
      name: 'matMul gradients (materialised transposes)',
      tolerance: FLOAT32,
      run: () =>
        tf.tidy(() =>
          tf.concat(
            tf
              .grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(matMul(a, b), rand(3, [5, 33, 17]))))([rand(1, [5, 33, 70]), rand(2, [5, 70, 17])])
              .map((g) => tf.reshape(g, [-1])),
          ),
        ),
    },
    convCase(1, 'same', 'forward'),
    convCase(2, 'same', 'forward'),
    convCase(1, 'same', 'filter'),
    convCase(2, 'same', 'filter'),
    convCase(2, 'valid', 'filter'),
    convCase(1, 'same', 'input'),
    convCase(2, 'same', 'input'),
    {
      name: 'gather gradient (UnsortedSegmentSum)',
      tolerance: FLOAT32,
      run: () => tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d([3, 0, 3, 9, 1, 3], 'int32')), rand(4, [6, 5]))))(rand(5, [10, 5]))),
    },
    { name: 'softmax and logSoftmax', tolerance: FLOAT32, run: () => tf.tidy(() => tf.concat([tf.softmax(rand(6, [7, 30])), tf.logSoftmax(rand(6, [7, 30]))])) },
    networkCase(),
  ];
}

/** Runs every case on `cpu` and on `target` (tfjs backend names) and compares. */
export async function runParity(target: string): Promise<ParityResult[]> {
  const previous = tf.getBackend();
  const results: ParityResult[] = [];
  for (const c of parityCases()) {
    const values: Float32Array[] = [];
    for (const backend of ['cpu', target]) {
      await tf.setBackend(backend);
      const t = c.run();
      values.push((await t.data()) as Float32Array);
      t.dispose();
    }
    const [ref, got] = values as [Float32Array, Float32Array];
    let diff = 0;
    let norm = 0;
    let maxAbs = 0;
    for (let i = 0; i < ref.length; i++) {
      const d = got[i]! - ref[i]!;
      diff += d * d;
      norm += ref[i]! * ref[i]!;
      maxAbs = Math.max(maxAbs, Math.abs(d));
    }
    const relativeError = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
    results.push({ name: c.name, relativeError, maxAbsError: maxAbs, tolerance: c.tolerance, ok: got.length === ref.length && relativeError <= c.tolerance });
  }
  await tf.setBackend(previous);
  return results;
}
