import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BackendName } from '../backend/select.ts';
import { tf } from '../backend/tf.ts';
import { answerPrepared, type AnswerResponse } from '../infer/answer.ts';
import type { Predictor, RuntimeName } from '../infer/predictor.ts';
import { BadInputError, type PreparedQuestion } from '../infer/prepare.ts';
import { Batcher } from './batcher.ts';
import type { WorkerData, WorkerReply, WorkerRequest } from './inference_worker.ts';

/** Answers prepared questions, batching those that arrive together. */
export interface AnswerEngine {
  answer(q: PreparedQuestion): Promise<AnswerResponse>;
  readonly ready: boolean;
  /** not ready because the model's workers are being replaced after it was ready (a crash), not because it is still loading */
  readonly restarting: boolean;
  /** settles when the model is loaded (rejects when it cannot be) */
  whenReady(): Promise<string>;
  /** requests waiting for a batch */
  queueDepth(): number;
  /** live tfjs tensors where the model runs (summed over workers) */
  tensorCount(): number;
  /** resident memory of the worker processes, as they last reported it (0 when the model runs in process) */
  workerRssBytes(): number;
  close(): Promise<void>;
}

export interface EngineOptions {
  modelDir: string;
  /** inference worker processes */
  workers: number;
  maxBatch: number;
  maxWaitMs: number;
  backend: BackendName;
  /** where each worker runs the network (see createPredictor) */
  runtime: RuntimeName;
  /** onnxruntime's intra-op threads in each worker */
  threads: number;
  onBatch?: (size: number) => void;
  /** where a worker's restart is reported */
  log?: (line: string) => void;
}

/** The model on the calling thread: for tests and tools; a long batch blocks the event loop. */
export function inProcessEngine(predictor: Predictor, o: Pick<EngineOptions, 'maxBatch' | 'maxWaitMs' | 'onBatch'>): AnswerEngine {
  const batcher = new Batcher((batch: PreparedQuestion[]) => answerPrepared(predictor, batch), { ...o, concurrency: 1 });
  return {
    answer: (q) => batcher.submit(q),
    ready: true,
    restarting: false,
    whenReady: async () => `in process, ${predictor.runtime}`,
    queueDepth: () => batcher.depth,
    tensorCount: () => tf.memory().numTensors,
    workerRssBytes: () => 0,
    close: async () => predictor.dispose(),
  };
}

/**
 * How long a closing worker may take to exit before it is killed. A worker still starting (Node,
 * the TypeScript loader, the model) hears the close only once its event loop runs, which on a
 * loaded two-core machine took more than 2 s.
 */
const CLOSE_GRACE_MS = 10_000;

/**
 * One inference worker: a child process, not a worker thread, because onnxruntime-node 1.14 keeps
 * process-wide state tied to the first JavaScript environment that opens a session; a second one
 * in the same process after the first has ended corrupts the heap. A process also keeps a crashed
 * forward pass from taking the server down.
 */
class InferenceWorker {
  private readonly child: ChildProcess;
  readonly started: Promise<string>;
  state: 'loading' | 'ready' | 'gone' = 'loading';
  tensors = 0;
  rssBytes = 0;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (a: AnswerResponse[]) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;

  constructor(o: EngineOptions, onExit: (worker: InferenceWorker, why: string) => void) {
    const data: WorkerData = { modelDir: o.modelDir, backend: o.backend, runtime: o.runtime, threads: o.threads };
    // execArgv: [] so that the parent's loader and inspector flags (a test runner's, say) stay out.
    this.child = fork(fileURLToPath(new URL('./inference_worker.mjs', import.meta.url)), [JSON.stringify(data)], { serialization: 'advanced', execArgv: [] });
    this.started = new Promise((resolve, reject) => {
      this.child.on('message', (m: WorkerReply) => {
        if (m.type !== 'failed') this.rssBytes = m.rssBytes;
        if (m.type === 'ready') {
          this.state = 'ready';
          resolve(m.runtime);
        } else if (m.type === 'failed') {
          reject(new Error(`inference worker: ${m.message}`));
        } else {
          this.tensors = m.tensors;
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          if (m.answers) p?.resolve(m.answers);
          else p?.reject(new Error(m.error));
        }
      });
      this.child.on('error', reject);
      this.child.on('exit', (code, signal) => {
        const why = signal ? `signal ${signal}` : `exit code ${code}`;
        const wasReady = this.state === 'ready';
        this.state = 'gone';
        reject(new Error(`inference worker: the process ended (${why}) before the model was loaded`));
        const gone = new BadInputError('worker_restarting', `the inference worker stopped (${why}) while answering; it is being restarted`, 503);
        for (const p of this.pending.values()) p.reject(gone);
        this.pending.clear();
        if (wasReady) onExit(this, why);
      });
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  run(batch: PreparedQuestion[]): Promise<AnswerResponse[]> {
    const id = this.nextId++;
    // Questions about one image point at one array, which serialization then copies once.
    const images = new Map<string, Float32Array>();
    const shared = batch.map((q) => {
      if (!images.has(q.imageKey)) images.set(q.imageKey, q.image);
      return { ...q, image: images.get(q.imageKey)! };
    });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // A send to a process that has just died fails here, before its exit is reported.
      this.child.send({ type: 'batch', id, batch: shared } satisfies WorkerRequest, (err) => {
        if (!err || !this.pending.delete(id)) return;
        reject(new BadInputError('worker_restarting', `the inference worker cannot be reached (${err.message}); it is being restarted`, 503));
      });
    });
  }

  /** Asks the process to exit (killing it after a grace period) and waits until it has. */
  async close(): Promise<void> {
    if (this.state === 'gone') return;
    this.state = 'gone';
    if (this.child.connected) this.child.send({ type: 'close' } satisfies WorkerRequest);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), CLOSE_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** The worker's process id (for tests that stop one). */
  get pid(): number | undefined {
    return this.child.pid;
  }
}

/**
 * The model in inference worker processes: the server's event loop stays free while batches run.
 * A worker that stops after it was ready is replaced; the questions it held get 503s.
 */
export function workerEngine(o: EngineOptions): AnswerEngine & { workerPids(): (number | undefined)[] } {
  let closing = false;
  const replace = (gone: InferenceWorker, why: string) => {
    if (closing) return;
    o.log?.(`inference worker ${gone.pid} stopped (${why}); starting another`);
    const next = new InferenceWorker(o, replace);
    workers[workers.indexOf(gone)] = next;
    next.started.then(
      (runtime) => o.log?.(`inference worker ${next.pid} ready on ${runtime}`),
      (err: Error) => o.log?.(`error: ${err.message}`),
    );
  };
  const workers = Array.from({ length: o.workers }, () => new InferenceWorker(o, replace));
  const batcher = new Batcher(
    (batch: PreparedQuestion[]) => {
      const ready = workers.filter((w) => w.state === 'ready');
      const worker = ready.find((w) => !w.busy) ?? ready[0];
      if (!worker) return Promise.reject(new BadInputError('worker_restarting', 'no inference worker is ready; one is being restarted', 503));
      return worker.run(batch);
    },
    { maxBatch: o.maxBatch, maxWaitMs: o.maxWaitMs, concurrency: o.workers, onBatch: o.onBatch },
  );
  const started = Promise.all(workers.map((w) => w.started)).then((runtimes) => runtimes[0]!);
  let loadedOnce = false; // a worker has been ready: not ready since means restarting, not loading
  for (const w of workers)
    w.started.then(
      () => (loadedOnce = true),
      () => {},
    );
  started.catch(() => {}); // reported through whenReady()
  return {
    answer: (q) => batcher.submit(q),
    get ready() {
      return workers.some((w) => w.state === 'ready');
    },
    get restarting() {
      return loadedOnce && !workers.some((w) => w.state === 'ready');
    },
    whenReady: () => started,
    queueDepth: () => batcher.depth,
    tensorCount: () => workers.reduce((n, w) => n + w.tensors, 0),
    workerRssBytes: () => workers.reduce((n, w) => n + w.rssBytes, 0),
    workerPids: () => workers.map((w) => w.pid),
    close: async () => {
      closing = true;
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
