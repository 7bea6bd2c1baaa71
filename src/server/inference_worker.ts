// Runs in a worker thread: loads the model on its own tfjs engine and answers batches, so the
// server's event loop never waits on a forward pass.
import { parentPort, workerData } from 'node:worker_threads';
import { describeBackend, selectBackend, type BackendName } from '../backend/select.ts';
import { tf } from '../backend/tf.ts';
import { answerPrepared } from '../infer/answer.ts';
import type { PreparedQuestion } from '../infer/prepare.ts';
import { VqaModel } from '../model/vqa_model.ts';

export type WorkerRequest = { id: number; batch: PreparedQuestion[] };
export type WorkerReply =
  | { type: 'ready'; backend: string }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; answers?: Awaited<ReturnType<typeof answerPrepared>>; error?: string; tensors: number };

const port = parentPort!;
const { modelDir, backend } = workerData as { modelDir: string; backend: BackendName };

try {
  const info = await selectBackend(backend);
  const { model } = VqaModel.load(modelDir);
  port.on('message', async ({ id, batch }: WorkerRequest) => {
    try {
      const answers = await answerPrepared(model, batch);
      port.postMessage({ type: 'result', id, answers, tensors: tf.memory().numTensors } satisfies WorkerReply);
    } catch (err) {
      port.postMessage({ type: 'result', id, error: (err as Error).message, tensors: tf.memory().numTensors } satisfies WorkerReply);
    }
  });
  port.postMessage({ type: 'ready', backend: describeBackend(info) } satisfies WorkerReply);
} catch (err) {
  port.postMessage({ type: 'failed', message: (err as Error).message } satisfies WorkerReply);
}
