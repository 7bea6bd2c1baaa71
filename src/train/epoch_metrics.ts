import type { AccuracyReport } from '../eval/accuracy.ts';

/** An epoch's training figures, whatever the model. */
export interface EpochStats {
  epoch: number;
  lr: number;
  loss: number;
  trainAccuracy: number;
  samplesPerSecond: number;
  seconds: number;
}

/** One line of a VQA run's metrics.jsonl: its training figures and its validation report. */
export interface EpochMetrics extends EpochStats {
  val?: AccuracyReport;
}
