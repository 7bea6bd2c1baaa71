import { tf } from '../backend/tf.ts';
import { batchTensors } from '../train/batches.ts';
import { gridSize } from '../model/config.ts';
import type { VqaModel } from '../model/vqa_model.ts';
import { prepareQuestion, type PreparedQuestion } from './prepare.ts';

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

/** Runs prepared questions through the network in one forward pass. */
export async function answerPrepared(model: VqaModel, batch: PreparedQuestion[]): Promise<AnswerResponse[]> {
  const { imageSize: size, language } = model.config.model;
  const maxTokens = language.maxTokens;
  const px = size * size * 3;
  const pixels = new Float32Array(batch.length * px);
  const ids = new Int32Array(batch.length * maxTokens);
  const mask = new Float32Array(batch.length * maxTokens);
  batch.forEach((q, b) => {
    pixels.set(q.pixels, b * px);
    ids.set(q.ids, b * maxTokens);
    mask.fill(1, b * maxTokens, b * maxTokens + q.tokens.length);
  });
  // Each question brings its own image: image i belongs to question i.
  const { inputs } = batchTensors({ batch: batch.length, images: batch.length, size, maxTokens, pixels, imageIndex: Int32Array.from(batch, (_, i) => i), ids, mask, answers: 0 });
  try {
    const preds = await model.predict(inputs, Math.max(...batch.map((q) => q.topK)));
    const g = gridSize(model.config.model);
    return preds.map((p, b) => ({
      answers: p.answers.slice(0, batch[b]!.topK),
      attention: {
        question: batch[b]!.tokens.map((token, t) => ({ token, weights: p.questionAttention.map((glimpse) => glimpse[t]!) })),
        image: { grid: [g, g], weights: p.imageAttention },
      },
    }));
  } finally {
    tf.dispose(Object.values(inputs));
  }
}

/** Decodes, tokenises and answers several questions in one forward pass. */
export async function answerBatch(model: VqaModel, requests: AnswerRequest[]): Promise<AnswerResponse[]> {
  const prepared = await Promise.all(requests.map((r) => prepareQuestion(model.config.model, model.tokenizer, r.image, r.question, r.topK)));
  return answerPrepared(model, prepared);
}
