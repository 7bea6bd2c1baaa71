import { describe, expect, it } from 'vitest';
import { summarize, vqaAccuracy } from '../src/eval/accuracy.ts';

describe('VQA accuracy', () => {
  it('averages min(1, matches/3) over the ten leave-one-out subsets', () => {
    const gt = (k: number) => [...Array(k).fill('two'), ...Array(10 - k).fill('three')];
    // k humans agree with the prediction: each held-out subset sees k or k−1 matches.
    expect(vqaAccuracy('two', gt(0))).toBe(0);
    expect(vqaAccuracy('two', gt(1))).toBeCloseTo(0.3, 12);
    expect(vqaAccuracy('two', gt(2))).toBeCloseTo(0.6, 12);
    expect(vqaAccuracy('two', gt(3))).toBeCloseTo(0.9, 12);
    expect(vqaAccuracy('two', gt(4))).toBe(1);
    expect(vqaAccuracy('two', gt(10))).toBe(1);
  });

  it('normalises case, articles and punctuation on both sides when the annotators disagree', () => {
    expect(vqaAccuracy('A Circle.', [...Array(9).fill('circle'), 'Circle'])).toBe(1);
  });

  it('aggregates unrounded per-question accuracies, then rounds to two decimals', () => {
    const scored = [
      { questionId: 1, questionType: 'count', answerType: 'number', accuracy: 1 },
      { questionId: 2, questionType: 'count', answerType: 'number', accuracy: 0.3 },
      { questionId: 3, questionType: 'exist', answerType: 'yes/no', accuracy: 0 },
    ];
    const r = summarize(scored, { counting: ['count'] });
    expect(r.overall).toBe(43.33);
    expect(r.perQuestionType).toEqual({ count: 65, exist: 0 });
    expect(r.perAnswerType).toEqual({ number: 65, 'yes/no': 0 });
    expect(r.perGroup).toEqual({ counting: 65 });
  });
});
