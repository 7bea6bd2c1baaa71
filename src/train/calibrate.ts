import { tf } from '../backend/tf.ts';
import type { Dataset } from '../data/manifest.ts';
import type { Sample } from '../data/split.ts';
import { vqaAccuracy } from '../eval/accuracy.ts';
import { expectedCalibrationError } from '../eval/calibration.ts';
import { buildBatch, disposeBatch, imageTensorBatches, inOrderBatches } from '../inputs/batches.ts';
import { openSplitInputs, type SplitInputs } from '../inputs/split_inputs.ts';
import { inference } from '../nn/eager_ops.ts';
import { loadPretrainedModels } from '../model/pretrained_encoders.ts';
import type { ModelCard } from '../model/checkpoint.ts';
import type { VqaModel } from '../model/vqa_model.ts';

/** Training images whose descriptors fit the familiarity check, and the next ones that set its threshold. */
const FIT_IMAGES = 4000;
const THRESHOLD_IMAGES = 1000;
/** Share of held-out training images the threshold lets through. */
const THRESHOLD_QUANTILE = 0.99;
/** Shrinkage of the descriptors' covariance towards its mean variance, for a stable inverse. */
const SHRINKAGE = 0.05;

export type CalibrationReport = NonNullable<ModelCard['calibration']>;

/**
 * Fits what a model says about its own answers (model/familiarity.ts): the temperature that
 * minimises the val split's negative log-likelihood, and the distribution of training images'
 * descriptors with a threshold at the 99th percentile of held-out training images.
 */
export async function calibrateModel(model: VqaModel, ds: Dataset, log: (line: string) => void = () => {}): Promise<CalibrationReport> {
  const pretrainedModels = await loadPretrainedModels(model.config.model, model.pretrained);
  const fam = model.net.familiarity;
  setScalar(fam.temperature, 1);
  setScalar(fam.threshold, 1);

  const train = await openSplitInputs(model, pretrainedModels, ds, 'train', { skipBad: false });
  const perImage = firstOfEachImage(train.split.samples);
  if (perImage.length < 100) throw new Error(`calibrating needs at least 100 training images; ${ds.dir} has ${perImage.length}`);
  const fitCount = Math.min(FIT_IMAGES, Math.floor(perImage.length * 0.8));
  const fit = descriptors(model, perImage.slice(0, fitCount), train);
  const { mean, precision } = gaussian(fit.values, fit.rows, fit.width);
  tf.tidy(() => {
    fam.mean.assign(tf.tensor1d(mean));
    fam.precision.assign(tf.tensor2d(precision, [fit.width, fit.width]));
  });
  const held = perImage.slice(fitCount, fitCount + THRESHOLD_IMAGES);
  const threshold = quantile(distances(model, held, train), THRESHOLD_QUANTILE);
  setScalar(fam.threshold, threshold);
  log(`familiarity: fitted on ${fitCount} training images, threshold ${threshold.toFixed(2)} (the ${100 * THRESHOLD_QUANTILE}th percentile of ${held.length} others)`);

  const val = await openSplitInputs(model, pretrainedModels, ds, 'val', { skipBad: false });
  const scored = valLogits(model, val);
  const eceBefore = ece(scored, 1);
  const temperature = bestTemperature(scored);
  setScalar(fam.temperature, temperature);
  const eceAfter = ece(scored, temperature);
  const valDistances = distances(model, firstOfEachImage(val.split.samples), val);
  const valFlagged = valDistances.filter((d) => d > 1).length / valDistances.length;
  log(
    `calibration: temperature ${temperature.toFixed(3)}, val ECE ${(100 * eceBefore).toFixed(2)}% → ${(100 * eceAfter).toFixed(2)}%; ${(100 * valFlagged).toFixed(1)}% of val images flagged`,
  );
  return { temperature, eceBefore, eceAfter, fitImages: fitCount, thresholdImages: held.length, valFlagged };
}

function setScalar(v: tf.Variable, value: number): void {
  tf.tidy(() => v.assign(tf.scalar(value)));
}

function firstOfEachImage(samples: Sample[]): Sample[] {
  const seen = new Set<number>();
  return samples.filter((s) => !seen.has(s.imageId) && seen.add(s.imageId));
}

function descriptors(model: VqaModel, samples: Sample[], inputs: SplitInputs): { values: Float32Array; rows: number; width: number } {
  const parts: Float32Array[] = [];
  let width = 0;
  for (const images of imageTensorBatches(inOrderBatches(samples, 64), inputs.images)) {
    const d = tf.tidy(() => model.net.imageDescriptors(inference, images));
    width = d.shape[1]!;
    parts.push(d.dataSync() as Float32Array);
    d.dispose();
  }
  const values = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) values.set(p, (at += p.length) - p.length);
  return { values, rows: samples.length, width };
}

/** Each image's distance through the network's own forward (one question per image). */
function distances(model: VqaModel, samples: Sample[], inputs: SplitInputs): number[] {
  const out: number[] = [];
  for (const batch of inOrderBatches(samples, 64)) {
    const b = buildBatch(batch, inputs.images, inputs.questions);
    try {
      const d = tf.tidy(() => model.net.forward(inference, b.inputs).imageDistance);
      out.push(...(d.dataSync() as Float32Array));
      d.dispose();
    } finally {
      disposeBatch(b);
    }
  }
  return out;
}

interface ScoredLogits {
  logits: Float32Array[];
  /** per question: each answer's VQA accuracy (the answers the model knows) */
  accuracies: Float32Array[];
}

function valLogits(model: VqaModel, val: SplitInputs): ScoredLogits {
  const logits: Float32Array[] = [];
  const accuracies: Float32Array[] = [];
  const vocab = model.answers.answers;
  for (const batch of inOrderBatches(val.split.samples, 128)) {
    const b = buildBatch(batch, val.images, val.questions);
    try {
      const l = tf.tidy(() => model.net.forward(inference, b.inputs).logits);
      const rows = l.arraySync() as number[][];
      l.dispose();
      rows.forEach((row, i) => {
        const given = batch[i]!.annotation?.answers.map((a) => a.answer);
        if (!given) return;
        logits.push(Float32Array.from(row));
        accuracies.push(Float32Array.from(vocab, (a) => vqaAccuracy(a, given)));
      });
    } finally {
      disposeBatch(b);
    }
  }
  return { logits, accuracies };
}

function softmax(row: Float32Array, temperature: number): Float64Array {
  const max = row.reduce((m, v) => Math.max(m, v), -Infinity);
  const e = Float64Array.from(row, (v) => Math.exp((v - max) / temperature));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function ece(s: ScoredLogits, temperature: number): number {
  return expectedCalibrationError(
    s.logits.map((row, i) => {
      const p = softmax(row, temperature);
      let top = 0;
      for (let j = 1; j < p.length; j++) if (p[j]! > p[top]!) top = j;
      return { confidence: p[top]!, accuracy: s.accuracies[i]![top]! };
    }),
  );
}

/** Negative log-likelihood of the soft VQA targets (accuracies normalised per question). */
function nll(s: ScoredLogits, temperature: number): number {
  let total = 0;
  s.logits.forEach((row, i) => {
    const p = softmax(row, temperature);
    const acc = s.accuracies[i]!;
    const mass = acc.reduce((a, b) => a + b, 0);
    if (mass === 0) return;
    for (let j = 0; j < p.length; j++) if (acc[j]! > 0) total -= (acc[j]! / mass) * Math.log(Math.max(p[j]!, 1e-12));
  });
  return total / s.logits.length;
}

/** Golden-section search for the temperature in [0.05, 20] (log scale) with the least NLL. */
function bestTemperature(s: ScoredLogits): number {
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let i = 0; i < 40; i++) {
    const a = hi - phi * (hi - lo);
    const b = lo + phi * (hi - lo);
    if (nll(s, Math.exp(a)) < nll(s, Math.exp(b))) hi = b;
    else lo = a;
  }
  return Math.exp((lo + hi) / 2);
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Mean and shrunk inverse covariance of `rows` × `width` values. */
export function gaussian(values: Float32Array, rows: number, width: number): { mean: Float32Array; precision: Float32Array } {
  const mean = new Float64Array(width);
  for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) mean[j]! += values[r * width + j]! / rows;
  const cov = new Float64Array(width * width);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < width; i++) {
      const zi = values[r * width + i]! - mean[i]!;
      for (let j = i; j < width; j++) cov[i * width + j]! += (zi * (values[r * width + j]! - mean[j]!)) / (rows - 1);
    }
  }
  let trace = 0;
  for (let i = 0; i < width; i++) {
    for (let j = 0; j < i; j++) cov[i * width + j] = cov[j * width + i]!;
    trace += cov[i * width + i]!;
  }
  for (let k = 0; k < width * width; k++) cov[k]! *= 1 - SHRINKAGE;
  for (let i = 0; i < width; i++) cov[i * width + i]! += (SHRINKAGE * trace) / width;
  return { mean: Float32Array.from(mean), precision: Float32Array.from(invert(cov, width)) };
}

/** Gauss–Jordan inverse with partial pivoting of a symmetric positive definite matrix. */
function invert(m: Float64Array, n: number): Float64Array {
  const a = Float64Array.from(m);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]!) > Math.abs(a[pivot * n + c]!)) pivot = r;
    if (pivot !== c) {
      for (let k = 0; k < n; k++) {
        [a[c * n + k], a[pivot * n + k]] = [a[pivot * n + k]!, a[c * n + k]!];
        [inv[c * n + k], inv[pivot * n + k]] = [inv[pivot * n + k]!, inv[c * n + k]!];
      }
    }
    const p = a[c * n + c]!;
    for (let k = 0; k < n; k++) {
      a[c * n + k]! /= p;
      inv[c * n + k]! /= p;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r * n + c]!;
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        a[r * n + k]! -= f * a[c * n + k]!;
        inv[r * n + k]! -= f * inv[c * n + k]!;
      }
    }
  }
  return inv;
}
