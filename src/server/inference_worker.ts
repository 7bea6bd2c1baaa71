// Runs in an inference worker process: loads the model on its own tfjs engine (or onnxruntime)
// and answers batches sent over IPC, so the server's event loop never waits on a forward pass.
import { describeBackend, selectBackend, type BackendName } from '../backend/select.ts';
import { tf } from '../backend/tf.ts';
import { answerPrepared } from '../infer/answer.ts';
import { TfjsPredictor, type Predictor, type RuntimeName } from '../infer/predictor.ts';
import type { PreparedQuestion } from '../infer/prepare.ts';
import { createPredictor } from '../infer/runtime.ts';
import { VqaModel } from '../model/vqa_model.ts';

export type WorkerData = { modelDir: string; backend: BackendName; runtime: RuntimeName; threads: number };
export type WorkerRequest = { type: 'batch'; id: number; batch: PreparedQuestion[] } | { type: 'close' };
export type WorkerReply =
  /** `runtime` describes where the network runs, e.g. "onnxruntime 1.14.0 (cpu, 1 thread)" */
  | { type: 'ready'; runtime: string; rssBytes: number }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; answers?: Awaited<ReturnType<typeof answerPrepared>>; error?: string; tensors: number; rssBytes: number };

const send = (m: WorkerReply, then?: () => void) => process.send!(m, undefined, {}, then);
const { modelDir, backend, runtime, threads } = JSON.parse(process.argv[2]!) as WorkerData;
// The server decides when this process ends: Ctrl-C reaches the whole process group, and the
// server drains the requests in flight before it closes its workers. The server going away (even
// killed) closes the channel, and then nothing is left running.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => {});
process.on('disconnect', () => process.exit(0));

let predictor: Predictor | undefined;
/** What the server shows of this process on /metrics, sent with every answer. */
const gauges = () => ({ tensors: tf.memory().numTensors, rssBytes: process.memoryUsage.rss() });
// Listening from the start, so that a close sent while the model still loads is heard; batches
// only come after 'ready'.
process.on('message', (m: WorkerRequest) => void answer(m));

/** Answers one request; every failure is sent back as the request's error. */
async function answer(m: WorkerRequest): Promise<void> {
  if (m.type === 'close') {
    predictor?.dispose();
    process.exit(0);
  }
  if (!predictor) return;
  try {
    const answers = await answerPrepared(predictor, m.batch);
    send({ type: 'result', id: m.id, answers, ...gauges() });
  } catch (err) {
    send({ type: 'result', id: m.id, error: (err as Error).message, ...gauges() });
  }
}

try {
  const info = await selectBackend(backend);
  const { model } = VqaModel.load(modelDir);
  const created = await createPredictor(model, runtime, threads);
  predictor = created.predictor;
  const where = predictor instanceof TfjsPredictor ? describeBackend(info) : predictor.runtime;
  send({ type: 'ready', runtime: created.note ? `${where} (${created.note})` : where, rssBytes: process.memoryUsage.rss() });
} catch (err) {
  send({ type: 'failed', message: (err as Error).message }, () => process.exit(1));
}
