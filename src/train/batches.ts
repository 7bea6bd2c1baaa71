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
  /** the tokens behind each question, for attention display */
  tokens: string[][];
}

export function buildBatch(batch: Sample[], images: ImageTable, tokenizer: WordTokenizer, maxTokens: number, answers?: AnswerVocab): Batch {
  const imageRows = new Map<number, number>();
  for (const s of batch) if (!imageRows.has(s.imageId)) imageRows.set(s.imageId, imageRows.size);
  const px = images.pixelsPerImage;
  const pixels = new Float32Array(imageRows.size * px);
  for (const [id, row] of imageRows) normalizePixels(images.row(id), pixels, row * px);
  const ids = new Int32Array(batch.length * maxTokens);
  const mask = new Float32Array(batch.length * maxTokens);
  const tokens: string[][] = [];
  batch.forEach((s, b) => {
    const enc = tokenizer.encode(s.question, maxTokens);
    ids.set(enc.ids, b * maxTokens);
    for (let t = 0; t < enc.tokens.length; t++) mask[b * maxTokens + t] = 1;
    tokens.push(enc.tokens);
  });
  let targets: tf.Tensor2D | undefined;
  if (answers && batch.every((s) => s.annotation)) {
    const t = new Float32Array(batch.length * answers.size);
    batch.forEach((s, b) => answers.softTarget(s.annotation!, t, b * answers.size));
    targets = tf.tensor2d(t, [batch.length, answers.size]);
  }
  return {
    inputs: {
      images: tf.tensor4d(pixels, [imageRows.size, images.size, images.size, 3]),
      imageIndex: tf.tensor1d(Int32Array.from(batch, (s) => imageRows.get(s.imageId)!), 'int32'),
      tokens: tf.tensor2d(ids, [batch.length, maxTokens], 'int32'),
      mask: tf.tensor2d(mask, [batch.length, maxTokens]),
    },
    targets,
    tokens,
  };
}

export function disposeBatch(b: Batch): void {
  tf.dispose([b.inputs.images, b.inputs.imageIndex, b.inputs.tokens, b.inputs.mask, ...(b.targets ? [b.targets] : [])]);
}
