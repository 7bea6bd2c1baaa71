/** Expected calibration error: the answers' confidences against their accuracies, in equal-width bins. */
export const ECE_BINS = 15;

export interface ScoredAnswer {
  /** the top answer's score (probability) */
  confidence: number;
  /** its VQA accuracy, 0–1 */
  accuracy: number;
}

/** Σ over bins of |bin| / n · |mean accuracy − mean confidence| (Guo et al. 2017), 0–1. */
export function expectedCalibrationError(answers: ScoredAnswer[], bins = ECE_BINS): number {
  if (answers.length === 0) return 0;
  const count = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const acc = new Array<number>(bins).fill(0);
  for (const a of answers) {
    const b = Math.min(bins - 1, Math.floor(a.confidence * bins));
    count[b]!++;
    conf[b]! += a.confidence;
    acc[b]! += a.accuracy;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(acc[b]! - conf[b]!) / answers.length;
  return ece;
}
