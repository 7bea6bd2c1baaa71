import { distinctRows, questionArrays } from '../inputs/batches.ts';
import { inputShapes, regionGrid } from '../config/config.ts';
import type { Predictor } from './predictor.ts';
import type { InputPreparer, PreparedQuestion } from './prepare.ts';

export interface AnswerRequest {
  image: Buffer;
  question: string;
  topK: number;
}

export interface AnswerResponse {
  /** best first; scores are calibrated probabilities (`vqa calibrate`) */
  answers: { answer: string; score: number }[];
  /** words of the question that training never saw: the answer may not be about what was asked */
  unknown_words: string[];
  /** the image is unlike the scenes the model was trained on (image_distance > 1): the answer is a guess */
  out_of_distribution: boolean;
  /** the image's distance from the training scenes, over the model's threshold */
  image_distance: number;
  attention: {
    question: { token: string; weights: number[] }[];
    image: { grid: [number, number]; weights: number[][] };
  };
}

/** Runs prepared questions through the network in one forward pass. */
export async function answerPrepared(predictor: Predictor, batch: PreparedQuestion[]): Promise<AnswerResponse[]> {
  const cfg = predictor.config;
  const { imageShape, textWidth } = inputShapes(cfg);
  const perImage = imageShape.reduce((a, b) => a * b, 1);
  // Questions about the same image (same key) share one row: its encoder runs once per batch.
  const { rows: imageIndex, distinct } = distinctRows(batch.map((q) => q.imageKey));
  const imageValues = new Float32Array(distinct.length * perImage);
  batch.forEach((q, b) => imageValues.set(q.image, imageIndex[b]! * perImage));
  const maxTokens = cfg.language.maxTokens;
  const { text, mask } = questionArrays(
    batch.map((q) => ({ values: q.text, tokens: q.tokens })),
    { width: textWidth, maxTokens },
  );
  const arrays = { batch: batch.length, images: distinct.length, imageShape, imageValues, imageIndex, maxTokens, textWidth, text, mask, answers: 0 };
  const unseen = (b: number) => predictor.unseenWordScale !== 1 && batch[b]!.unknownWords.length > 0;
  // A softened row is renormalised over every answer, so then every answer's score is asked for.
  const softening = batch.some((_, b) => unseen(b));
  const preds = await predictor.predict(arrays, softening ? Infinity : Math.max(...batch.map((q) => q.topK)));
  const grid = regionGrid(cfg);
  return preds.map((p, b) => ({
    answers: (unseen(b) ? softenScores(p.answers, predictor.unseenWordScale) : p.answers).slice(0, batch[b]!.topK),
    unknown_words: batch[b]!.unknownWords,
    out_of_distribution: p.imageDistance > 1,
    image_distance: p.imageDistance,
    attention: {
      question: batch[b]!.tokens.map((token, t) => ({ token, weights: p.questionAttention.map((glimpse) => glimpse[t]!) })),
      image: { grid, weights: p.imageAttention },
    },
  }));
}

/**
 * Every answer's score as if the logits had been divided by `scale` once more: softmax(log p / scale).
 * The order stays; the scores of a question with a word training never saw come out less sure.
 */
export function softenScores(answers: { answer: string; score: number }[], scale: number): { answer: string; score: number }[] {
  const powered = answers.map((a) => a.score ** (1 / scale));
  const sum = powered.reduce((x, y) => x + y, 0);
  return answers.map((a, i) => ({ answer: a.answer, score: powered[i]! / sum }));
}

/** Decodes, encodes and answers several questions in one forward pass. */
export async function answerBatch(predictor: Predictor, preparer: InputPreparer, requests: AnswerRequest[]): Promise<AnswerResponse[]> {
  const prepared = await Promise.all(requests.map((r) => preparer.prepare(r.image, r.question, r.topK)));
  return answerPrepared(predictor, prepared);
}
