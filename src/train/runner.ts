import type { Sample } from '../data/split.ts';
import type { VqaModel } from '../model/vqa_model.ts';
import type { Adam, OptimizerSnapshot } from './adam.ts';
import { batchTensors, disposeBatch, type BatchArrays } from '../inputs/batches.ts';
import { trainStep, type StepResult } from './step.ts';

/** Runs optimisation steps, on this thread or spread over worker threads. */
export interface StepRunner {
  /** one step on `samples`; `stagesOn` as in computeGradients */
  step(samples: Sample[], lr: number, stagesOn: boolean): Promise<StepResult>;
  /** brings the main thread's model up to date with the weights the steps produced */
  syncInto(model: VqaModel): Promise<void>;
  optimizerState(): Promise<OptimizerSnapshot>;
  dispose(): Promise<void>;
}

export type MakeArrays = (samples: Sample[]) => BatchArrays | Promise<BatchArrays>;

/** Steps on the calling thread, on the model itself. */
export class LocalRunner implements StepRunner {
  constructor(
    private readonly model: VqaModel,
    private readonly adam: Adam,
    private readonly makeArrays: MakeArrays,
  ) {}

  async step(samples: Sample[], lr: number, stagesOn: boolean): Promise<StepResult> {
    const batch = batchTensors(await this.makeArrays(samples));
    try {
      return await trainStep(this.model, this.adam, batch, lr, stagesOn);
    } finally {
      disposeBatch(batch);
    }
  }

  async syncInto(): Promise<void> {}

  optimizerState(): Promise<OptimizerSnapshot> {
    return this.adam.snapshot();
  }

  async dispose(): Promise<void> {
    this.adam.dispose();
  }
}
