import { Worker } from 'node:worker_threads';
import { blasThreadsFromEnv } from '../backend/native_kernels.ts';
import type { BackendName } from '../backend/select.ts';
import { tf } from '../backend/tf.ts';
import type { Sample } from '../data/split.ts';
import type { VqaModel } from '../model/vqa_model.ts';
import type { OptimizerSnapshot } from './adam.ts';
import type { MakeArrays, StepRunner } from './runner.ts';
import type { StepResult } from './step.ts';
import type { TrainWorkerData, TrainWorkerReply, TrainWorkerRequest } from './train_worker.ts';

/** Names of running batch-norm statistics: averaged over workers, since each sees its own shard. */
const isRunningStat = (name: string) => name.endsWith('.running_mean') || name.endsWith('.running_var');

class TrainWorker {
  private readonly worker: Worker;
  private waiting: { resolve: (m: TrainWorkerReply) => void; reject: (e: Error) => void } | undefined;

  constructor(data: TrainWorkerData) {
    this.worker = new Worker(new URL('./train_worker.mjs', import.meta.url), { workerData: data });
    this.worker.on('message', (m: TrainWorkerReply) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (m.type === 'failed' || m.type === 'error') w?.reject(new Error(`training worker ${data.index}: ${m.message}`));
      else w?.resolve(m);
    });
    this.worker.on('error', (err) => {
      this.waiting?.reject(err);
      this.waiting = undefined;
    });
  }

  /** The next reply (the first one is 'ready'). */
  next(): Promise<TrainWorkerReply> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  request(m: TrainWorkerRequest): Promise<TrainWorkerReply> {
    const reply = this.next();
    this.worker.postMessage(m);
    return reply;
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

/**
 * Synchronous data-parallel training over worker threads: a batch is cut into one shard per
 * worker, each computes its shard's gradients, and all apply Σ (nᵢ/N)·gᵢ with the same Adam step,
 * which equals one step on the whole batch with gradients accumulated over the shards (batch
 * norm sees each shard's statistics, as in data-parallel training without synchronised batch norm).
 */
export class DataParallelRunner implements StepRunner {
  private constructor(
    private readonly workers: TrainWorker[],
    private readonly makeArrays: MakeArrays,
  ) {}

  static async start(model: VqaModel, workers: number, backend: BackendName, makeArrays: MakeArrays, optimizer?: OptimizerSnapshot): Promise<DataParallelRunner> {
    const order = [...model.net.store.trainable().keys()];
    const total = [...model.net.store.trainable().values()].reduce((n, v) => n + v.size, 0);
    const shared = new SharedArrayBuffer(workers * total * 4);
    const weights: Record<string, Float32Array> = {};
    for (const [name, v] of model.net.store.state()) weights[name] = (await v.data()) as Float32Array;
    const pool = Array.from(
      { length: workers },
      (_, index) =>
        new TrainWorker({
          index,
          backend,
          config: model.config,
          tokenizer: model.tokenizer,
          answers: model.answers.answers,
          weights,
          optimizer,
          shared,
          order,
          blasThreads: Math.max(1, Math.floor(blasThreadsFromEnv() / workers)),
        }),
    );
    try {
      await Promise.all(pool.map((w) => w.next()));
    } catch (err) {
      await Promise.all(pool.map((w) => w.terminate()));
      throw err;
    }
    return new DataParallelRunner(pool, makeArrays);
  }

  async step(samples: Sample[], lr: number, stagesOn: boolean): Promise<StepResult> {
    const per = Math.ceil(samples.length / this.workers.length);
    const shards = this.workers.map((_, i) => samples.slice(i * per, (i + 1) * per)).filter((s) => s.length > 0);
    const arrays = await Promise.all(shards.map((s) => this.makeArrays(s)));
    const replies = await Promise.all(shards.map((_, i) => this.workers[i]!.request({ type: 'grad', arrays: arrays[i]!, stagesOn })));
    const shardWeights = this.workers.map((_, i) => (shards[i]?.length ?? 0) / samples.length);
    await Promise.all(this.workers.map((w) => w.request({ type: 'apply', shardWeights, lr, scaled: stagesOn })));
    let loss = 0;
    const predicted = new Int32Array(samples.length);
    let at = 0;
    replies.forEach((r, i) => {
      if (r.type !== 'grad') throw new Error(`training worker ${i}: unexpected reply ${r.type}`);
      loss += r.loss * shardWeights[i]!;
      predicted.set(r.predicted, at);
      at += r.predicted.length;
    });
    return { loss, predicted };
  }

  async syncInto(model: VqaModel): Promise<void> {
    const states = await Promise.all(this.workers.map((w) => w.request({ type: 'state', optimizer: false })));
    const values: Record<string, tf.Tensor> = {};
    for (const [name, v] of model.net.store.state()) {
      const arrays = states.map((s) => (s.type === 'state' ? s.weights[name]! : new Float32Array()));
      let value = arrays[0]!;
      if (isRunningStat(name)) {
        value = new Float32Array(value.length);
        for (const a of arrays) for (let j = 0; j < a.length; j++) value[j] += a[j]! / arrays.length;
      }
      values[name] = tf.tensor(value, v.shape);
    }
    try {
      model.net.store.assign(values, 'data-parallel workers');
    } finally {
      tf.dispose(Object.values(values));
    }
  }

  async optimizerState(): Promise<OptimizerSnapshot> {
    const reply = await this.workers[0]!.request({ type: 'state', optimizer: true });
    if (reply.type !== 'state' || !reply.optimizer) throw new Error('training worker 0 sent no optimizer state');
    return reply.optimizer;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
