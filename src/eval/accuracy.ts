import { normalizeAnswer } from './normalize.ts';

/**
 * The VQA accuracy of one predicted answer: the mean over the N leave-one-out subsets of the
 * human answers of min(1, matches / 3) (Antol et al.; N = 10 in VQA).
 */
export function vqaAccuracy(predicted: string, humanAnswers: string[]): number {
  const p = normalizeAnswer(predicted);
  const gt = humanAnswers.map(normalizeAnswer);
  let sum = 0;
  for (let i = 0; i < gt.length; i++) {
    let matches = 0;
    for (let j = 0; j < gt.length; j++) if (j !== i && gt[j] === p) matches++;
    sum += Math.min(1, matches / 3);
  }
  return gt.length === 0 ? 0 : sum / gt.length;
}

export interface ScoredQuestion {
  questionId: number;
  questionType: string;
  answerType: string;
  accuracy: number;
}

export interface AccuracyReport {
  overall: number;
  count: number;
  perAnswerType: Record<string, number>;
  perQuestionType: Record<string, number>;
  /** groups of question types named by the data set's manifest (e.g. relational / non-relational) */
  perGroup: Record<string, number>;
}

/** Percentages rounded to two decimals from unrounded per-question accuracies (toFixed rounds the exact value). */
const percent = (sum: number, n: number) => Number(((100 * sum) / n).toFixed(2));

function meanBy(scored: ScoredQuestion[], key: (s: ScoredQuestion) => string): Record<string, number> {
  const sums = new Map<string, [number, number]>();
  for (const s of scored) {
    const k = key(s);
    const [sum, n] = sums.get(k) ?? [0, 0];
    sums.set(k, [sum + s.accuracy, n + 1]);
  }
  return Object.fromEntries([...sums].sort(([a], [b]) => a.localeCompare(b)).map(([k, [sum, n]]) => [k, percent(sum, n)]));
}

export function summarize(scored: ScoredQuestion[], groups: Record<string, string[]> = {}): AccuracyReport {
  const perGroup: Record<string, number> = {};
  for (const [group, types] of Object.entries(groups)) {
    const members = scored.filter((s) => types.includes(s.questionType));
    if (members.length > 0) perGroup[group] = percent(members.reduce((a, s) => a + s.accuracy, 0), members.length);
  }
  return {
    overall: scored.length === 0 ? 0 : percent(scored.reduce((a, s) => a + s.accuracy, 0), scored.length),
    count: scored.length,
    perAnswerType: meanBy(scored, (s) => s.answerType),
    perQuestionType: meanBy(scored, (s) => s.questionType),
    perGroup,
  };
}

export function formatReport(r: AccuracyReport): string {
  const lines = [`Overall accuracy: ${r.overall.toFixed(2)}  (${r.count} questions)`];
  const section = (title: string, values: Record<string, number>) => {
    if (Object.keys(values).length === 0) return;
    lines.push(title);
    for (const [k, v] of Object.entries(values)) lines.push(`  ${k.padEnd(28)} ${v.toFixed(2)}`);
  };
  section('Per group:', r.perGroup);
  section('Per answer type:', r.perAnswerType);
  section('Per question type:', r.perQuestionType);
  return lines.join('\n');
}
