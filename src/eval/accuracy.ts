import { cleanWhitespace, processDigitArticle, processPunctuation } from '../data/normalize.ts';

/** 'official': the 2021 VQA evaluation; 'legacy': the pre-2021 code that openvqa and other ports still follow. */
export type EvalRules = 'official' | 'legacy';

/** Applies the rules' cleaning and gate: returns the processed prediction and ground-truth answers. */
function processAnswers(predicted: string, humanAnswers: string[], rules: EvalRules): [string, string[]] {
  const full = (s: string) => processDigitArticle(processPunctuation(s));
  if (rules === 'legacy') {
    // Pre-2021: the prediction is always fully processed; the ground truth is never whitespace-cleaned
    // and, when annotators disagree, only gets punctuation processing.
    const disagree = new Set(humanAnswers).size > 1;
    return [full(cleanWhitespace(predicted)), disagree ? humanAnswers.map(processPunctuation) : humanAnswers];
  }
  const gt = humanAnswers.map(cleanWhitespace);
  const p = cleanWhitespace(predicted);
  // The gate: normalise only when the cleaned human answers are not all identical.
  return new Set(gt).size > 1 ? [full(p), gt.map(full)] : [p, gt];
}

/**
 * The VQA accuracy of one predicted answer: the mean over the N leave-one-out subsets of the
 * human answers of min(1, matches / 3), summed in answer order (Antol et al.; N = 10 in VQA).
 */
export function vqaAccuracy(predicted: string, humanAnswers: string[], rules: EvalRules = 'official'): number {
  if (humanAnswers.length === 0) throw new Error('a question needs at least one human answer');
  const [p, gt] = processAnswers(predicted, humanAnswers, rules);
  let sum = 0;
  for (let i = 0; i < gt.length; i++) {
    let matches = 0;
    for (let j = 0; j < gt.length; j++) if (j !== i && gt[j] === p) matches++;
    sum += Math.min(1, matches / 3);
  }
  return sum / gt.length;
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
    if (members.length > 0)
      perGroup[group] = percent(
        members.reduce((a, s) => a + s.accuracy, 0),
        members.length,
      );
  }
  return {
    overall:
      scored.length === 0
        ? 0
        : percent(
            scored.reduce((a, s) => a + s.accuracy, 0),
            scored.length,
          ),
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
