import { tf } from '../backend/tf.ts';
import type { AnswerVocab } from '../data/answers.ts';
import { normalizePixels, type ImageTable } from '../data/images.ts';
import type { Sample } from '../data/split.ts';
import { Rng } from '../data/synth/rng.ts';
import type { WordTokenizer } from '../language/tokenizer.ts';
import type { NetInputs } from '../model/net.ts';

/**
 * Orders an epoch's questions in groups of at most `perImage` questions about one image (groups
 * shuffled, questions shuffled within each), then cuts batches. A batch computes each of its
 * images' CNN features once, while the cap keeps enough distinct images in every batch.
 */
export function epochBatches(samples: Sample[], batchSize: number, perImage: number, seed: number, epoch: number): Sample[][] {
  const rng = new Rng(seed * 1000003 + epoch);
  const byImage = new Map<number, Sample[]>();
  for (const s of samples) {
    const list = byImage.get(s.imageId) ?? [];
    list.push(s);
    byImage.set(s.imageId, list);
  }
  const groups: Sample[][] = [];
  for (const questions of byImage.values()) {
    const shuffled = rng.shuffle([...questions]);
    for (let i = 0; i < shuffled.length; i += perImage) groups.push(shuffled.slice(i, i + perImage));
  }
  const ordered = rng.shuffle(groups).flat();
  const batches: Sample[][] = [];
  for (let i = 0; i < ordered.length; i += batchSize) batches.push(ordered.slice(i, i + batchSize));
  return batches;
}

/** Sequential batches in file order, for evaluation. */
export function inOrderBatches(samples: Sample[], batchSize: number): Sample[][] {
  const batches: Sample[][] = [];
  for (let i = 0; i < samples.length; i += batchSize) batches.push(samples.slice(i, i + batchSize));
  return batches;
}

export interface Batch {
  inputs: NetInputs;
  /** soft targets [B, K], present when every sample has an annotation */
  targets?: tf.Tensor2D;
}

/** A batch as plain typed arrays, which can be sent to a worker thread. */
export interface BatchArrays {
  batch: number;
  images: number;
  size: number;
  maxTokens: number;
  pixels: Float32Array;
  imageIndex: Int32Array;
  ids: Int32Array;
  mask: Float32Array;
  /** [B, K] soft targets, when every sample has an annotation */
  targets?: Float32Array;
  answers: number;
}

export function batchArrays(batch: Sample[], images: ImageTable, tokenizer: WordTokenizer, maxTokens: number, answers?: AnswerVocab): BatchArrays {
  const imageRows = new Map<number, number>();
  for (const s of batch) if (!imageRows.has(s.imageId)) imageRows.set(s.imageId, imageRows.size);
  const px = images.pixelsPerImage;
  const pixels = new Float32Array(imageRows.size * px);
  for (const [id, row] of imageRows) normalizePixels(images.row(id), pixels, row * px);
  const ids = new Int32Array(batch.length * maxTokens);
  const mask = new Float32Array(batch.length * maxTokens);
  batch.forEach((s, b) => {
    const enc = tokenizer.encode(s.question, maxTokens);
    ids.set(enc.ids, b * maxTokens);
    mask.fill(1, b * maxTokens, b * maxTokens + enc.tokens.length);
  });
  let targets: Float32Array | undefined;
  if (answers && batch.every((s) => s.annotation)) {
    targets = new Float32Array(batch.length * answers.size);
    batch.forEach((s, b) => answers.softTarget(s.annotation!, targets!, b * answers.size));
  }
  return {
    batch: batch.length,
    images: imageRows.size,
    size: images.size,
    maxTokens,
    pixels,
    imageIndex: Int32Array.from(batch, (s) => imageRows.get(s.imageId)!),
    ids,
    mask,
    targets,
    answers: answers?.size ?? 0,
  };
}

export function batchTensors(a: BatchArrays): Batch {
  return {
    inputs: {
      images: tf.tensor4d(a.pixels, [a.images, a.size, a.size, 3]),
      imageIndex: tf.tensor1d(a.imageIndex, 'int32'),
      tokens: tf.tensor2d(a.ids, [a.batch, a.maxTokens], 'int32'),
      mask: tf.tensor2d(a.mask, [a.batch, a.maxTokens]),
    },
    targets: a.targets ? tf.tensor2d(a.targets, [a.batch, a.answers]) : undefined,
  };
}

export function buildBatch(batch: Sample[], images: ImageTable, tokenizer: WordTokenizer, maxTokens: number, answers?: AnswerVocab): Batch {
  return batchTensors(batchArrays(batch, images, tokenizer, maxTokens, answers));
}

export function disposeBatch(b: Batch): void {
  tf.dispose([b.inputs.images, b.inputs.imageIndex, b.inputs.tokens, b.inputs.mask, ...(b.targets ? [b.targets] : [])]);
}
