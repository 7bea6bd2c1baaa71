import type { AccuracyReport } from '../eval/accuracy.ts';

/** One line of RUN/metrics.jsonl: an epoch's training figures and its validation report. */
export interface EpochMetrics {
  epoch: number;
  lr: number;
  loss: number;
  trainAccuracy: number;
  samplesPerSecond: number;
  seconds: number;
  val?: AccuracyReport;
}
