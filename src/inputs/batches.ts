import { tf } from '../backend/tf.ts';
import type { AnswerVocab } from '../data/answers.ts';
import type { ImageRows } from '../data/images.ts';
import type { Sample } from '../data/split.ts';
import { Rng } from '../util/rng.ts';
import type { NetInputs } from '../model/net.ts';
import type { EncodedQuestion, QuestionRows } from '../language/question_rows.ts';

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

/** Each item's row among the distinct keys, in order of first appearance (a batch stores each image once). */
export function distinctRows<K>(keys: K[]): { rows: Int32Array; distinct: K[] } {
  const index = new Map<K, number>();
  const rows = Int32Array.from(keys, (k) => {
    if (!index.has(k)) index.set(k, index.size);
    return index.get(k)!;
  });
  return { rows, distinct: [...index.keys()] };
}

/** The values of the given images laid end to end, row r = ids[r]. */
function imageValuesOf(ids: number[], images: ImageRows): Float32Array {
  const per = images.shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(ids.length * per);
  ids.forEach((id, row) => images.write(id, values, row * per));
  return values;
}

/**
 * The distinct images of each batch as one tensor [I, ...shape], made when asked for and disposed
 * after use (4D for pixels; pretrained feature rows give [I, N, C], which no encoder with batch norm reads).
 */
export function* imageTensorBatches(batches: Sample[][], images: ImageRows): Generator<tf.Tensor4D> {
  for (const batch of batches) {
    const ids = distinctRows(batch.map((s) => s.imageId)).distinct;
    const created: tf.Tensor = tf.tensor(imageValuesOf(ids, images), [ids.length, ...images.shape], 'float32');
    const tensor = created as tf.Tensor4D;
    try {
      yield tensor;
    } finally {
      tensor.dispose();
    }
  }
}

/** Sequential batches in file order, for evaluation. */
export function inOrderBatches(samples: Sample[], batchSize: number): Sample[][] {
  const batches: Sample[][] = [];
  for (let i = 0; i < samples.length; i += batchSize) batches.push(samples.slice(i, i + batchSize));
  return batches;
}

export interface Batch {
  inputs: NetInputs<tf.Tensor>;
  /** soft targets [B, K], present when every sample has an annotation */
  targets?: tf.Tensor2D;
}

/** A batch as plain typed arrays, which can be sent to a worker thread. */
export interface BatchArrays {
  batch: number;
  /** distinct images, each of `imageShape` floats */
  images: number;
  imageShape: number[];
  imageValues: Float32Array;
  /** for each question, its row of `imageValues` */
  imageIndex: Int32Array;
  /** tokens per question: the model's maxTokens, or fewer for a batch cut to its longest question */
  maxTokens: number;
  /** 0: `text` holds token ids [B, T]; C: token states [B, T, C] */
  textWidth: number;
  text: Int32Array | Float32Array;
  mask: Float32Array;
  /** [B, K] soft targets, when every sample has an annotation */
  targets?: Float32Array;
  answers: number;
}

/** The inputs of a batch of questions, each image's values once. */
export function batchArrays(batch: Sample[], images: ImageRows, questions: QuestionRows, answers?: AnswerVocab): BatchArrays {
  const { rows, distinct } = distinctRows(batch.map((s) => s.imageId));
  const imageValues = imageValuesOf(distinct, images);
  const encoded = batch.map((s) => questions.encode(s.question));
  // Token ids are cut to the batch's longest question: the padding after it would only be masked
  // (a 40-token model trains on clevr-lite's questions 1.55 times as fast). Token states of a
  // pretrained text model keep their stored length.
  const length = questions.width === 0 ? Math.max(1, ...encoded.map((e) => e.tokens.length)) : questions.maxTokens;
  const { text, mask } = questionArrays(
    encoded.map((e) => (length === questions.maxTokens ? e : { tokens: e.tokens, values: e.values.subarray(0, length) })),
    { width: questions.width, maxTokens: length },
  );
  let targets: Float32Array | undefined;
  if (answers && batch.every((s) => s.annotation)) {
    targets = new Float32Array(batch.length * answers.size);
    batch.forEach((s, b) => answers.softTarget(s.annotation!, targets!, b * answers.size));
  }
  return {
    batch: batch.length,
    images: distinct.length,
    imageShape: images.shape,
    imageValues,
    imageIndex: rows,
    maxTokens: length,
    textWidth: questions.width,
    text,
    mask,
    targets,
    answers: answers?.size ?? 0,
  };
}

/** Encoded questions laid end to end, with their token masks. */
export function questionArrays(encoded: EncodedQuestion[], shape: Pick<QuestionRows, 'width' | 'maxTokens'>): { text: Int32Array | Float32Array; mask: Float32Array } {
  const { maxTokens, width } = shape;
  const per = maxTokens * Math.max(width, 1);
  const text = width === 0 ? new Int32Array(encoded.length * per) : new Float32Array(encoded.length * per);
  const mask = new Float32Array(encoded.length * maxTokens);
  encoded.forEach((e, b) => {
    text.set(e.values, b * per);
    mask.fill(1, b * maxTokens, b * maxTokens + e.tokens.length);
  });
  return { text, mask };
}

export function batchTensors(a: BatchArrays): Batch {
  return {
    inputs: {
      images: tf.tensor(a.imageValues, [a.images, ...a.imageShape], 'float32'),
      imageIndex: tf.tensor1d(a.imageIndex, 'int32'),
      tokens: a.textWidth === 0 ? tf.tensor2d(a.text, [a.batch, a.maxTokens], 'int32') : tf.tensor3d(a.text, [a.batch, a.maxTokens, a.textWidth], 'float32'),
      mask: tf.tensor2d(a.mask, [a.batch, a.maxTokens]),
    },
    targets: a.targets ? tf.tensor2d(a.targets, [a.batch, a.answers]) : undefined,
  };
}

export function buildBatch(batch: Sample[], images: ImageRows, questions: QuestionRows, answers?: AnswerVocab): Batch {
  return batchTensors(batchArrays(batch, images, questions, answers));
}

export function disposeBatch(b: Batch): void {
  tf.dispose([b.inputs.images, b.inputs.imageIndex, b.inputs.tokens, b.inputs.mask, ...(b.targets ? [b.targets] : [])]);
}
