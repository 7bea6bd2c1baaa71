import { tf } from '../backend/tf.ts';
import { decodeImage, normalizePixels } from '../data/images.ts';
import { gridSize } from '../model/config.ts';
import type { VqaModel } from '../model/vqa_model.ts';

export interface AnswerRequest {
  image: Buffer;
  question: string;
  topK: number;
}

export interface AnswerResponse {
  answers: { answer: string; score: number }[];
  attention: {
    question: { token: string; weights: number[] }[];
    image: { grid: [number, number]; weights: number[][] };
  };
}

/** Raised for input the client must fix (the server maps it to a 4xx). */
export class BadInputError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** Answers several questions in one forward pass; each image is decoded and encoded once. */
export async function answerBatch(model: VqaModel, requests: AnswerRequest[]): Promise<AnswerResponse[]> {
  const size = model.config.model.imageSize;
  const maxTokens = model.config.model.language.maxTokens;
  const decoded = await Promise.all(
    requests.map(async (r) => {
      try {
        return await decodeImage(r.image, size);
      } catch (err) {
        throw new BadInputError('bad_image', `the image could not be decoded (${(err as Error).message})`);
      }
    }),
  );
  const px = size * size * 3;
  const pixels = new Float32Array(requests.length * px);
  decoded.forEach((d, i) => normalizePixels(d, pixels, i * px));
  const encoded = requests.map((r) => model.tokenizer.encode(r.question, maxTokens));
  const ids = new Int32Array(requests.length * maxTokens);
  const mask = new Float32Array(requests.length * maxTokens);
  encoded.forEach((e, b) => {
    ids.set(e.ids, b * maxTokens);
    mask.fill(1, b * maxTokens, b * maxTokens + e.tokens.length);
  });
  const inputs = {
    images: tf.tensor4d(pixels, [requests.length, size, size, 3]),
    imageIndex: tf.tensor1d(Int32Array.from(requests, (_, i) => i), 'int32'),
    tokens: tf.tensor2d(ids, [requests.length, maxTokens], 'int32'),
    mask: tf.tensor2d(mask, [requests.length, maxTokens]),
  };
  try {
    const topK = Math.max(...requests.map((r) => r.topK));
    const preds = await model.predict(inputs, topK);
    const g = gridSize(model.config.model);
    return preds.map((p, b) => ({
      answers: p.answers.slice(0, requests[b]!.topK),
      attention: {
        question: encoded[b]!.tokens.map((token, t) => ({ token, weights: p.questionAttention.map((glimpse) => glimpse[t]!) })),
        image: { grid: [g, g], weights: p.imageAttention },
      },
    }));
  } finally {
    tf.dispose(Object.values(inputs));
  }
}
