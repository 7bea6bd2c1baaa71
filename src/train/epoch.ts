import { Progress } from '../util/progress.ts';
import type { EpochStats } from './epoch_metrics.ts';

/** What one optimisation step reports: the batch's mean loss and each sample's accuracy in [0, 1]. */
export interface StepOutcome {
  loss: number;
  scores: number[];
}

/**
 * One pass over the batches, shared by every model trained here: a progress line with the running
 * loss and accuracy, and the epoch's figures. A loss that is not finite stops the run.
 */
export async function runEpoch<S>(batches: S[][], lr: number, step: (batch: S[]) => Promise<StepOutcome>, label: string, unit: string): Promise<Omit<EpochStats, 'epoch'>> {
  const total = batches.reduce((n, b) => n + b.length, 0);
  const progress = new Progress(label, total, unit);
  const started = Date.now();
  let seen = 0;
  let lossSum = 0;
  let accSum = 0;
  for (const batch of batches) {
    const { loss, scores } = await step(batch);
    if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} in ${label}; the last checkpoint is kept`);
    lossSum += loss * batch.length;
    accSum += scores.reduce((a, b) => a + b, 0);
    seen += batch.length;
    progress.update(seen, `loss ${(lossSum / seen).toFixed(4)} · acc ${((100 * accSum) / seen).toFixed(1)}% · lr ${lr.toExponential(1)}`);
  }
  const seconds = (Date.now() - started) / 1000;
  return { lr, loss: lossSum / seen, trainAccuracy: (100 * accSum) / seen, samplesPerSecond: seen / seconds, seconds };
}
