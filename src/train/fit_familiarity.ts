import { tf } from '../backend/tf.ts';
import type { Dataset } from '../data/manifest.ts';
import { normalizePixels } from '../data/images.ts';
import type { Sample } from '../data/split.ts';
import { styleOf, vocabularyOf } from '../data/synth/generators.ts';
import type { SceneStyle } from '../data/synth/types.ts';
import { unfamiliarScene, type Vocabulary } from '../data/synth/unfamiliar.ts';
import { imageTensorBatches, inOrderBatches } from '../inputs/batches.ts';
import type { SplitInputs } from '../inputs/split_inputs.ts';
import { inference } from '../nn/eager_ops.ts';
import type { VqaModel } from '../model/vqa_model.ts';

/** Training images whose features fit the familiarity checks, and the next ones that set their thresholds. */
const FIT_IMAGES = 4000;
const THRESHOLD_IMAGES = 1000;
/** Share of held-out training images the Mahalanobis check lets through: alone, and as the backstop of the unfamiliar-scene score. */
const THRESHOLD_QUANTILE = 0.99;
const BACKSTOP_QUANTILE = 0.999;
/** Scenes of objects the generator never draws (outlier exposure): those that fit the direction, those that report its flag rate. */
const UNFAMILIAR_FIT = 800;
const UNFAMILIAR_REPORT = 200;
/** Share of held-out training images the unfamiliar-scene score lets through. */
const UNFAMILIAR_QUANTILE = 0.98;
/** Shrinkage of the descriptors' covariance towards its mean variance, for a stable inverse; more for the wider features of the discriminant. */
const SHRINKAGE = 0.05;
const DISCRIMINANT_SHRINKAGE = 0.2;

/** What the fit reports: the images it used, and the share of held-out unfamiliar scenes flagged (absent: none were drawn). */
export interface FamiliarityFit {
  fitImages: number;
  thresholdImages: number;
  unfamiliarImages?: number;
  unfamiliarFlagged?: number;
}

/**
 * Fits the familiarity checks of model/familiarity.ts: the Gaussian of training images'
 * descriptors and, for a CNN on a generated set, the direction that tells training images from
 * scenes of objects the generator never draws (data/synth/unfamiliar.ts; Fisher's discriminant).
 * Thresholds come from held-out training images: the 99th percentile of the Mahalanobis distance
 * alone, or the 98th of the unfamiliar-scene score with the distance's 99.9th as a backstop for
 * images unlike both (docs/experiments.md §23).
 */
export async function fitFamiliarity(model: VqaModel, ds: Dataset, train: SplitInputs, log: (line: string) => void): Promise<FamiliarityFit> {
  const fam = model.net.familiarity;
  const perImage = firstOfEachImage(train.split.samples);
  if (perImage.length < 100) throw new Error(`calibrating needs at least 100 training images; ${ds.dir} has ${perImage.length}`);
  const fitCount = Math.min(FIT_IMAGES, Math.floor(perImage.length * 0.8));
  const fit = featureRows(model, imageTensorBatches(inOrderBatches(perImage.slice(0, fitCount), 64), train.images));
  const held = featureRows(model, imageTensorBatches(inOrderBatches(perImage.slice(fitCount, fitCount + THRESHOLD_IMAGES), 64), train.images));
  const descriptorWidth = fam.descriptorWidth;
  const descriptors = (f: FeatureRows) => ({ values: columns(f, descriptorWidth), rows: f.rows, width: descriptorWidth });
  const { mean, precision } = gaussian(descriptors(fit).values, fit.rows, descriptorWidth);
  const mahalanobis = mahalanobisDistances(descriptors(held), mean, precision);

  const vocabulary = model.config.model.vision.kind === 'cnn' ? vocabularyOf(ds.manifest.generator) : undefined;
  const unfamiliar = vocabulary ? await unfamiliarRows(model, vocabulary, styleOf(ds.manifest.generator), UNFAMILIAR_FIT + UNFAMILIAR_REPORT) : undefined;
  let threshold = quantile(mahalanobis, THRESHOLD_QUANTILE);
  let direction = new Float32Array(fam.featureWidth);
  let offset = 0;
  let unfamiliarFlagged: number | undefined;
  if (unfamiliar) {
    const { w, centre } = fisherDirection(fit, { ...unfamiliar, rows: UNFAMILIAR_FIT });
    const scoreThreshold = quantile(scores(held, w, centre), UNFAMILIAR_QUANTILE);
    direction = w.map((v) => v / scoreThreshold);
    offset = -centre / scoreThreshold;
    threshold = quantile(mahalanobis, BACKSTOP_QUANTILE);
    const reported = { values: unfamiliar.values.subarray(UNFAMILIAR_FIT * unfamiliar.width), rows: UNFAMILIAR_REPORT, width: unfamiliar.width };
    const reportedDistances = mahalanobisDistances(descriptors(reported), mean, precision);
    unfamiliarFlagged = scores(reported, w, centre).filter((s, i) => s > scoreThreshold || reportedDistances[i]! > threshold).length / UNFAMILIAR_REPORT;
  }
  tf.tidy(() => {
    fam.mean.assign(tf.tensor1d(mean));
    fam.precision.assign(tf.tensor2d(precision, [descriptorWidth, descriptorWidth]));
    fam.direction.assign(tf.tensor1d(direction));
  });
  setScalar(fam.threshold, threshold);
  setScalar(fam.offset, offset);
  log(
    `familiarity: fitted on ${fitCount} training images, thresholds from ${held.rows} others` +
      (unfamiliarFlagged === undefined
        ? ''
        : `; ${UNFAMILIAR_FIT} unfamiliar scenes fit the discriminant, ${(100 * unfamiliarFlagged).toFixed(1)}% of ${UNFAMILIAR_REPORT} others flagged`),
  );
  return {
    fitImages: fitCount,
    thresholdImages: held.rows,
    ...(unfamiliarFlagged === undefined ? {} : { unfamiliarImages: UNFAMILIAR_FIT, unfamiliarFlagged }),
  };
}

export function setScalar(v: tf.Variable, value: number): void {
  tf.tidy(() => v.assign(tf.scalar(value)));
}

export function firstOfEachImage(samples: Sample[]): Sample[] {
  const seen = new Set<number>();
  return samples.filter((s) => !seen.has(s.imageId) && seen.add(s.imageId));
}

interface FeatureRows {
  values: Float32Array;
  rows: number;
  width: number;
}

/** The familiarity features (model/familiarity.ts) of each image of the batches, a row per image. */
function featureRows(model: VqaModel, batches: Iterable<tf.Tensor4D>): FeatureRows {
  const parts: Float32Array[] = [];
  const width = model.net.familiarity.featureWidth;
  for (const images of batches) {
    const f = tf.tidy(() => model.net.imageFeatures(inference, images));
    parts.push(f.dataSync() as Float32Array);
    f.dispose();
  }
  const values = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) values.set(p, (at += p.length) - p.length);
  return { values, rows: values.length / width, width };
}

/** The first `width` columns of each row. */
function columns(f: FeatureRows, width: number): Float32Array {
  const out = new Float32Array(f.rows * width);
  for (let r = 0; r < f.rows; r++) out.set(f.values.subarray(r * f.width, r * f.width + width), r * width);
  return out;
}

function mahalanobisDistances(f: FeatureRows, mean: Float32Array, precision: Float32Array): number[] {
  const n = f.width;
  return Array.from({ length: f.rows }, (_, r) => {
    const z = Array.from({ length: n }, (_, j) => f.values[r * n + j]! - mean[j]!);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      let row = 0;
      for (let j = 0; j < n; j++) row += z[j]! * precision[j * n + i]!;
      sum += row * z[i]!;
    }
    return Math.sqrt(Math.max(sum, 0));
  });
}

/** Scenes drawn by data/synth/unfamiliar.ts in the set's style at the model's input size, as feature rows. */
async function unfamiliarRows(model: VqaModel, vocabulary: Vocabulary, style: SceneStyle, count: number): Promise<FeatureRows> {
  const size = model.config.model.imageSize;
  const pixels = new Float32Array(count * size * size * 3);
  for (let i = 0; i < count; i++) normalizePixels(await unfamiliarScene(vocabulary, style, size, model.config.train.seed, i), pixels, i * size * size * 3);
  function* batches(): Generator<tf.Tensor4D> {
    for (let start = 0; start < count; start += 64) {
      const n = Math.min(64, count - start);
      const images = tf.tensor4d(pixels.subarray(start * size * size * 3, (start + n) * size * size * 3), [n, size, size, 3]);
      try {
        yield images;
      } finally {
        images.dispose();
      }
    }
  }
  return featureRows(model, batches());
}

/**
 * Fisher's discriminant between training images and unfamiliar scenes: w = (Σ₊ + Σ₋, shrunk)⁻¹ (μ₋ − μ₊),
 * with `centre` = w·μ₊, so that a training image scores about 0 and an unfamiliar one more.
 */
function fisherDirection(positive: FeatureRows, negative: FeatureRows): { w: Float32Array; centre: number } {
  const n = positive.width;
  const pos = covariance(positive.values, positive.rows, n);
  const neg = covariance(negative.values.subarray(0, negative.rows * n), negative.rows, n);
  const inverse = shrunkInverse(
    pos.cov.map((v, k) => v + neg.cov[k]!),
    n,
    DISCRIMINANT_SHRINKAGE,
  );
  const gap = Array.from({ length: n }, (_, j) => neg.mean[j]! - pos.mean[j]!);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) w[i]! += inverse[i * n + j]! * gap[j]!;
  return { w, centre: pos.mean.reduce((a, m, j) => a + m * w[j]!, 0) };
}

function scores(f: FeatureRows, w: Float32Array, centre: number): number[] {
  return Array.from({ length: f.rows }, (_, r) => {
    let s = -centre;
    for (let j = 0; j < f.width; j++) s += f.values[r * f.width + j]! * w[j]!;
    return s;
  });
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Mean and shrunk inverse covariance of `rows` × `width` values. */
export function gaussian(values: Float32Array, rows: number, width: number): { mean: Float32Array; precision: Float32Array } {
  const { mean, cov } = covariance(values, rows, width);
  return { mean: Float32Array.from(mean), precision: Float32Array.from(shrunkInverse(cov, width, SHRINKAGE)) };
}

function covariance(values: Float32Array, rows: number, width: number): { mean: Float64Array; cov: Float64Array } {
  const mean = new Float64Array(width);
  for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) mean[j]! += values[r * width + j]! / rows;
  const cov = new Float64Array(width * width);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < width; i++) {
      const zi = values[r * width + i]! - mean[i]!;
      for (let j = i; j < width; j++) cov[i * width + j]! += (zi * (values[r * width + j]! - mean[j]!)) / (rows - 1);
    }
  }
  for (let i = 0; i < width; i++) for (let j = 0; j < i; j++) cov[i * width + j] = cov[j * width + i]!;
  return { mean, cov };
}

/** The inverse of the covariance shrunk by `shrinkage` towards its mean variance. */
function shrunkInverse(cov: Float64Array, width: number, shrinkage: number): Float64Array {
  let trace = 0;
  for (let i = 0; i < width; i++) trace += cov[i * width + i]!;
  const shrunk = cov.map((v) => v * (1 - shrinkage));
  for (let i = 0; i < width; i++) shrunk[i * width + i]! += (shrinkage * trace) / width;
  return invert(shrunk, width);
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
