import { normalizeAnswer } from './normalize.ts';
import type { VqaAnnotation } from './vqa_files.ts';

/** The classifier's answer list: the top-K normalised answers of the training split. */
export class AnswerVocab {
  private readonly index: Map<string, number>;

  constructor(readonly answers: string[]) {
    this.index = new Map(answers.map((a, i) => [a, i]));
  }

  static build(annotations: VqaAnnotation[], maxAnswers: number): AnswerVocab {
    const counts = new Map<string, number>();
    for (const ann of annotations) {
      for (const a of ann.answers) {
        const n = normalizeAnswer(a.answer);
        counts.set(n, (counts.get(n) ?? 0) + 1);
      }
    }
    // Most frequent first; ties in string order so the list is the same on every run.
    const ranked = [...counts].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
    return new AnswerVocab(ranked.slice(0, maxAnswers).map(([a]) => a));
  }

  get size(): number {
    return this.answers.length;
  }

  indexOf(answer: string): number | undefined {
    return this.index.get(normalizeAnswer(answer));
  }

  /** Soft target: for each in-vocabulary answer, (annotators who gave it) / 10. */
  softTarget(ann: VqaAnnotation, into: Float32Array, offset: number): void {
    for (const a of ann.answers) {
      const i = this.indexOf(a.answer);
      if (i !== undefined) into[offset + i] += 1 / 10;
    }
  }
}
