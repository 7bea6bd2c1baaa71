import { Progress } from '../util/progress.ts';
import type { EpochStats } from './epoch_metrics.ts';

/** What one optimisation step reports: the batch's mean loss and each sample's accuracy in [0, 1]. */
export interface StepOutcome {
  loss: number;
  scores: number[];
}

/** What the weights and the optimizer state hold after a step, to say which went bad when the loss is not finite. */
export interface TrainedState {
  weights: Iterable<[string, ArrayLike<number>]>;
  optimizer: Iterable<[string, ArrayLike<number>]>;
}

/**
 * One pass over the batches, shared by every model trained here: a progress line with the running
 * loss and accuracy, and the epoch's figures. A loss that is not finite stops the run, naming the
 * tensors that are not finite (`state`); the last checkpoint, written before, is not touched.
 */
export async function runEpoch<S>(
  batches: S[][],
  lr: number,
  step: (batch: S[]) => Promise<StepOutcome>,
  label: string,
  unit: string,
  state: () => Promise<TrainedState>,
): Promise<Omit<EpochStats, 'epoch'>> {
  const total = batches.reduce((n, b) => n + b.length, 0);
  const progress = new Progress(label, total, unit);
  const started = Date.now();
  let seen = 0;
  let lossSum = 0;
  let accSum = 0;
  for (const batch of batches) {
    const { loss, scores } = await step(batch);
    if (!Number.isFinite(loss))
      throw new Error(`loss became ${loss} in ${label} at ${seen + batch.length} ${unit}: ${describeNonFinite(await state())}; the last checkpoint is kept`);
    lossSum += loss * batch.length;
    accSum += scores.reduce((a, b) => a + b, 0);
    seen += batch.length;
    progress.update(seen, `loss ${(lossSum / seen).toFixed(4)} · acc ${((100 * accSum) / seen).toFixed(1)}% · lr ${lr.toExponential(1)}`);
  }
  const seconds = (Date.now() - started) / 1000;
  return { lr, loss: lossSum / seen, trainAccuracy: (100 * accSum) / seen, samplesPerSecond: seen / seconds, seconds };
}

/** Which weights and optimizer slots hold a value that is not finite, for the message of a failed run. */
export function describeNonFinite(state: TrainedState): string {
  const bad = (named: Iterable<[string, ArrayLike<number>]>) => {
    const all = [...named];
    return { total: all.length, names: all.filter(([, v]) => !Array.prototype.every.call(v, Number.isFinite)).map(([n]) => n) };
  };
  const list = (what: string, b: { total: number; names: string[] }) =>
    b.names.length === 0
      ? ''
      : `${what} not finite: ${b.names.length === b.total ? `all ${b.total}` : b.names.slice(0, 5).join(', ') + (b.names.length > 5 ? ` and ${b.names.length - 5} more` : '')}`;
  const weights = bad(state.weights);
  const optimizer = bad(state.optimizer);
  const said = [list('weights', weights), list('optimizer state', optimizer)].filter(Boolean);
  return said.length > 0 ? said.join('; ') : 'every weight and optimizer value is still finite (the loss itself overflowed: try a lower learning rate)';
}
