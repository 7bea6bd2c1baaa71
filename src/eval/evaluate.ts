import type { ImageRows } from '../data/images.ts';
import type { QuestionRows } from '../language/question_rows.ts';
import type { Sample } from '../data/split.ts';
import type { VqaModel } from '../model/vqa_model.ts';
import { buildBatch, disposeBatch, inOrderBatches } from '../inputs/batches.ts';
import { summarize, vqaAccuracy, type AccuracyReport, type EvalRules } from './accuracy.ts';

/** The model's top answer for every sample, by question id. */
export async function predictAnswers(
  model: VqaModel,
  samples: Sample[],
  inputs: { images: ImageRows; questions: QuestionRows },
  batchSize: number,
  onProgress: (done: number) => void = () => {},
): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let done = 0;
  for (const batch of inOrderBatches(samples, batchSize)) {
    const b = buildBatch(batch, inputs.images, inputs.questions);
    try {
      const preds = await model.predict(b.inputs, 1);
      preds.forEach((p, i) => out.set(batch[i]!.questionId, p.answers[0]!.answer));
    } finally {
      disposeBatch(b);
    }
    onProgress((done += batch.length));
  }
  return out;
}

/** Scores predictions against the annotations with the VQA accuracy. */
export function scorePredictions(samples: Sample[], predictions: Map<number, string>, groups?: Record<string, string[]>, rules: EvalRules = 'official'): AccuracyReport {
  const scored = samples
    .filter((s) => s.annotation)
    .map((s) => {
      const ann = s.annotation!;
      const predicted = predictions.get(s.questionId);
      if (predicted === undefined) throw new Error(`no prediction for question_id ${s.questionId}`);
      return {
        questionId: s.questionId,
        questionType: ann.question_type,
        answerType: ann.answer_type,
        accuracy: vqaAccuracy(
          predicted,
          ann.answers.map((a) => a.answer),
          rules,
        ),
      };
    });
  return summarize(scored, groups);
}
