// One data-parallel training worker: its own tfjs engine and copy of the model and optimizer.
// Each step it computes the gradients of its shard into its slot of a shared buffer; then every
// worker applies the same weighted sum of all slots, so the copies stay identical.
import { parentPort, workerData } from 'node:worker_threads';
import { enableNativeKernels } from '../backend/native_kernels.ts';
import { selectBackend, type BackendName } from '../backend/select.ts';
import { tf } from '../backend/tf.ts';
import { AnswerVocab } from '../data/answers.ts';
import type { TokenizerFiles } from '../language/tokenizer_files.ts';
import type { RunConfig } from '../config/config.ts';
import { VqaModel } from '../model/vqa_model.ts';
import { Adam, adamOptions, type OptimizerSnapshot } from './adam.ts';
import { batchTensors, disposeBatch, type BatchArrays } from '../inputs/batches.ts';
import { computeGradients } from './step.ts';

export interface TrainWorkerData {
  index: number;
  backend: BackendName;
  config: RunConfig;
  tokenizer: TokenizerFiles;
  answers: string[];
  weights: Record<string, Float32Array>;
  optimizer?: OptimizerSnapshot;
  /** workers × total floats: one gradient slot per worker, parameters in `order` */
  shared: SharedArrayBuffer;
  order: string[];
  /** threads of the native BLAS kernels in this worker: the cores shared among the workers */
  blasThreads: number;
}

export type TrainWorkerRequest =
  { type: 'grad'; arrays: BatchArrays; stagesOn: boolean } | { type: 'apply'; shardWeights: number[]; lr: number; scaled: boolean } | { type: 'state'; optimizer: boolean };

export type TrainWorkerReply =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'grad'; loss: number; predicted: Int32Array }
  | { type: 'applied' }
  | { type: 'state'; weights: Record<string, Float32Array>; optimizer?: OptimizerSnapshot }
  | { type: 'error'; message: string };

const port = parentPort!;
const d = workerData as TrainWorkerData;

try {
  const info = await selectBackend(d.backend);
  if (info.native !== undefined) enableNativeKernels(d.blasThreads);
  const model = new VqaModel(d.config, d.tokenizer, new AnswerVocab(d.answers));
  const initial = Object.fromEntries(model.net.store.state().map(([name, v]) => [name, tf.tensor(d.weights[name]!, v.shape)]));
  model.net.store.assign(initial, 'training worker');
  tf.dispose(Object.values(initial));
  const trainable = model.net.store.trainable();
  const adam = new Adam(trainable, adamOptions(d.config.train));
  if (d.optimizer) adam.restoreSnapshot(d.optimizer, 'training worker');
  const sizes = d.order.map((name) => trainable.get(name)!.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const slots = new Float32Array(d.shared);

  /** Carries out one request; every failure is sent back as an error reply. */
  const handle = async (m: TrainWorkerRequest): Promise<void> => {
    try {
      if (m.type === 'grad') {
        const batch = batchTensors(m.arrays);
        const g = computeGradients(model, batch, m.stagesOn);
        let offset = d.index * total;
        for (const name of d.order) {
          const values = (await g.grads[name]!.data()) as Float32Array;
          slots.set(values, offset);
          offset += values.length;
        }
        const [loss, predicted] = await Promise.all([g.loss.data(), g.predicted.data()]);
        tf.dispose([g.loss, g.predicted, ...Object.values(g.grads)]);
        disposeBatch(batch);
        port.postMessage({ type: 'grad', loss: loss[0]!, predicted: Int32Array.from(predicted) } satisfies TrainWorkerReply);
      } else if (m.type === 'apply') {
        const grads: Record<string, tf.Tensor> = {};
        let offset = 0;
        d.order.forEach((name, i) => {
          const sum = new Float32Array(sizes[i]!);
          m.shardWeights.forEach((w, slot) => {
            if (w === 0) return; // a worker without a shard this step: its slot is stale
            const base = slot * total + offset;
            for (let j = 0; j < sum.length; j++) sum[j] += w * slots[base + j]!;
          });
          grads[name] = tf.tensor(sum, trainable.get(name)!.shape);
          offset += sizes[i]!;
        });
        tf.dispose([adam.apply(grads, m.lr, m.scaled), ...Object.values(grads)]);
        port.postMessage({ type: 'applied' } satisfies TrainWorkerReply);
      } else {
        const weights: Record<string, Float32Array> = {};
        for (const [name, v] of model.net.store.state()) weights[name] = (await v.data()) as Float32Array;
        port.postMessage({ type: 'state', weights, optimizer: m.optimizer ? await adam.snapshot() : undefined } satisfies TrainWorkerReply);
      }
    } catch (err) {
      port.postMessage({ type: 'error', message: (err as Error).message } satisfies TrainWorkerReply);
    }
  };
  port.on('message', (m: TrainWorkerRequest) => void handle(m));
  port.postMessage({ type: 'ready' } satisfies TrainWorkerReply);
} catch (err) {
  port.postMessage({ type: 'failed', message: (err as Error).message } satisfies TrainWorkerReply);
}
