// Runs in a worker thread: loads the model on its own tfjs engine and answers batches, so the
// server's event loop never waits on a forward pass.
import { parentPort, workerData } from 'node:worker_threads';
import { describeBackend, selectBackend, type BackendName } from '../backend/select.ts';
import { tf } from '../backend/tf.ts';
import { answerPrepared } from '../infer/answer.ts';
import { TfjsPredictor, type RuntimeName } from '../infer/predictor.ts';
import type { PreparedQuestion } from '../infer/prepare.ts';
import { createPredictor } from '../infer/runtime.ts';
import { VqaModel } from '../model/vqa_model.ts';

export type WorkerData = { modelDir: string; backend: BackendName; runtime: RuntimeName; threads: number };
export type WorkerRequest = { id: number; batch: PreparedQuestion[] };
export type WorkerReply =
  /** `runtime` describes where the network runs, e.g. "onnxruntime 1.14.0 (cpu, 1 thread)" */
  | { type: 'ready'; runtime: string }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; answers?: Awaited<ReturnType<typeof answerPrepared>>; error?: string; tensors: number };

const port = parentPort!;
const { modelDir, backend, runtime, threads } = workerData as WorkerData;

try {
  const info = await selectBackend(backend);
  const { model } = VqaModel.load(modelDir);
  const { predictor, note } = await createPredictor(model, runtime, threads);
  port.on('message', async ({ id, batch }: WorkerRequest) => {
    try {
      const answers = await answerPrepared(predictor, batch);
      port.postMessage({ type: 'result', id, answers, tensors: tf.memory().numTensors } satisfies WorkerReply);
    } catch (err) {
      port.postMessage({ type: 'result', id, error: (err as Error).message, tensors: tf.memory().numTensors } satisfies WorkerReply);
    }
  });
  const where = predictor instanceof TfjsPredictor ? describeBackend(info) : predictor.runtime;
  port.postMessage({ type: 'ready', runtime: note ? `${where} (${note})` : where } satisfies WorkerReply);
} catch (err) {
  port.postMessage({ type: 'failed', message: (err as Error).message } satisfies WorkerReply);
}
