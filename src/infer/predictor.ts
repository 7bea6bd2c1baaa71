import { tf } from '../backend/tf.ts';
import type { ModelConfig } from '../config/config.ts';
import type { Prediction, VqaModel } from '../model/vqa_model.ts';
import { batchTensors, type BatchArrays } from '../inputs/batches.ts';

/** Runs batches through a trained network: on tfjs, or on onnxruntime from an exported copy. */
export interface Predictor {
  readonly config: ModelConfig;
  /** e.g. "onnxruntime 1.14.0 (cpu, 2 threads)" */
  readonly runtime: string;
  /** how many times the calibrated temperature a question with a word training never saw gets (1: the same; src/infer/answer.ts applies it) */
  readonly unseenWordScale: number;
  predict(batch: BatchArrays, topK: number): Promise<Prediction[]>;
  dispose(): void;
}

export const RUNTIME_NAMES = ['auto', 'onnx', 'tfjs'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** The model on the current tfjs backend. */
export class TfjsPredictor implements Predictor {
  readonly config: ModelConfig;
  readonly runtime: string;
  readonly unseenWordScale: number;

  constructor(readonly model: VqaModel) {
    this.config = model.config.model;
    this.runtime = `tfjs (${tf.getBackend()})`;
    this.unseenWordScale = model.unseenWordScale();
  }

  async predict(batch: BatchArrays, topK: number): Promise<Prediction[]> {
    const { inputs } = batchTensors(batch);
    try {
      return await this.model.predict(inputs, topK);
    } finally {
      tf.dispose(Object.values(inputs));
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** The k largest of probs[row·width … row·width + width), best first (ties: lower index first). */
export function topIndices(probs: Float32Array, row: number, width: number, k: number): number[] {
  const best: number[] = [];
  const offset = row * width;
  for (let j = 0; j < width; j++) {
    const p = probs[offset + j]!;
    if (best.length === k && p <= probs[offset + best[k - 1]!]!) continue;
    let at = best.length < k ? best.length : k - 1;
    while (at > 0 && probs[offset + best[at - 1]!]! < p) at--;
    best.splice(at, 0, j);
    if (best.length > k) best.pop();
  }
  return best;
}
