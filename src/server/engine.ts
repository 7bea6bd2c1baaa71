import { Worker } from 'node:worker_threads';
import type { BackendName } from '../backend/select.ts';
import { tf } from '../backend/tf.ts';
import { answerPrepared, type AnswerResponse } from '../infer/answer.ts';
import type { Predictor, RuntimeName } from '../infer/predictor.ts';
import type { PreparedQuestion } from '../infer/prepare.ts';
import { Batcher } from './batcher.ts';
import type { WorkerData, WorkerReply } from './inference_worker.ts';

/** Answers prepared questions, batching those that arrive together. */
export interface AnswerEngine {
  answer(q: PreparedQuestion): Promise<AnswerResponse>;
  readonly ready: boolean;
  /** settles when the model is loaded (rejects when it cannot be) */
  whenReady(): Promise<string>;
  /** requests waiting for a batch */
  queueDepth(): number;
  /** live tfjs tensors where the model runs (summed over workers) */
  tensorCount(): number;
  close(): Promise<void>;
}

export interface EngineOptions {
  modelDir: string;
  /** inference worker threads; 0 runs the model on the calling thread */
  workers: number;
  maxBatch: number;
  maxWaitMs: number;
  backend: BackendName;
  /** where each worker runs the network (see createPredictor) */
  runtime: RuntimeName;
  /** onnxruntime's intra-op threads in each worker */
  threads: number;
  onBatch?: (size: number) => void;
}

/** The model on the calling thread: for tests and tools; a long batch blocks the event loop. */
export function inProcessEngine(predictor: Predictor, o: Pick<EngineOptions, 'maxBatch' | 'maxWaitMs' | 'onBatch'>): AnswerEngine {
  const batcher = new Batcher((batch: PreparedQuestion[]) => answerPrepared(predictor, batch), { ...o, concurrency: 1 });
  return {
    answer: (q) => batcher.submit(q),
    ready: true,
    whenReady: async () => `in process, ${predictor.runtime}`,
    queueDepth: () => batcher.depth,
    tensorCount: () => tf.memory().numTensors,
    close: async () => predictor.dispose(),
  };
}

class InferenceWorker {
  readonly worker: Worker;
  readonly started: Promise<string>;
  tensors = 0;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (a: AnswerResponse[]) => void; reject: (e: Error) => void }>();

  constructor(o: EngineOptions) {
    const workerData: WorkerData = { modelDir: o.modelDir, backend: o.backend, runtime: o.runtime, threads: o.threads };
    this.worker = new Worker(new URL('./inference_worker.mjs', import.meta.url), { workerData });
    this.started = new Promise((resolve, reject) => {
      this.worker.on('message', (m: WorkerReply) => {
        if (m.type === 'ready') resolve(m.runtime);
        else if (m.type === 'failed') reject(new Error(`inference worker: ${m.message}`));
        else {
          this.tensors = m.tensors;
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          if (m.answers) p?.resolve(m.answers);
          else p?.reject(new Error(m.error));
        }
      });
      this.worker.on('error', (err) => {
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
    });
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  run(batch: PreparedQuestion[]): Promise<AnswerResponse[]> {
    const id = this.nextId++;
    // Questions about one image point at one array, which the structured clone then copies once.
    const images = new Map<string, Float32Array>();
    const shared = batch.map((q) => {
      if (!images.has(q.imageKey)) images.set(q.imageKey, q.image);
      return { ...q, image: images.get(q.imageKey)! };
    });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, batch: shared });
    });
  }
}

/** The model in worker threads: the server's event loop stays free while batches run. */
export function workerEngine(o: EngineOptions): AnswerEngine {
  const workers = Array.from({ length: o.workers }, () => new InferenceWorker(o));
  let ready = false;
  const batcher = new Batcher(
    (batch: PreparedQuestion[]) => {
      const idle = workers.find((w) => !w.busy) ?? workers[0]!;
      return idle.run(batch);
    },
    { maxBatch: o.maxBatch, maxWaitMs: o.maxWaitMs, concurrency: o.workers, onBatch: o.onBatch },
  );
  const started = Promise.all(workers.map((w) => w.started)).then((runtimes) => {
    ready = true;
    return runtimes[0]!;
  });
  started.catch(() => {}); // reported through whenReady()
  return {
    answer: (q) => batcher.submit(q),
    get ready() {
      return ready;
    },
    whenReady: () => started,
    queueDepth: () => batcher.depth,
    tensorCount: () => workers.reduce((n, w) => n + w.tensors, 0),
    close: async () => {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
