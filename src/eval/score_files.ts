import { readAnnotations, type VqaAnnotation } from '../data/vqa_files.ts';
import { summarize, vqaAccuracy, type AccuracyReport, type EvalRules } from './accuracy.ts';
import { readJsonFile } from '../util/json_file.ts';

/** Metadata keys the official results loader copies from the questions file (it fails without them). */
const QUESTION_FILE_KEYS = ['info', 'task_type', 'data_type', 'data_subtype', 'license'];

export interface FileScore {
  report: AccuracyReport;
  /** per question id, percent rounded as the official code does */
  perQuestion: Record<string, number>;
  warnings: string[];
}

function listIds(ids: unknown[]): string {
  return `${ids.length} (first: ${ids
    .slice(0, 5)
    .map((x) => JSON.stringify(x))
    .join(', ')})`;
}

/** Reads a results file as the official loader does: an array of {question_id, answer}; the last duplicate wins. */
function readResults(file: string, warnings: string[]): Map<number, string> {
  const raw = readJsonFile(file);
  if (!Array.isArray(raw)) throw new Error(`${file}: results must be an array of {"question_id", "answer"} objects`);
  const results = new Map<number, string>();
  const stringIds: unknown[] = [];
  const duplicates: number[] = [];
  raw.forEach((r, i) => {
    if (typeof r !== 'object' || r === null) throw new Error(`${file}: entry ${i} is not an object`);
    const { question_id: id, answer } = r as Record<string, unknown>;
    if (typeof id === 'string') return void stringIds.push(id);
    if (typeof id !== 'number' || !Number.isInteger(id)) throw new Error(`${file}: entry ${i}: field 'question_id' must be an integer`);
    if (typeof answer !== 'string') throw new Error(`${file}: entry ${i} (question_id ${id}): field 'answer' must be a string`);
    if (results.has(id)) duplicates.push(id);
    results.set(id, answer);
  });
  if (stringIds.length) throw new Error(`${file}: question_id must be a number, not a string: ${listIds(stringIds)}`);
  if (duplicates.length) warnings.push(`${file}: duplicated question_id ${listIds(duplicates)}; the last answer of each is used`);
  return results;
}

function checkQuestionsFile(file: string): void {
  const raw = readJsonFile(file);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${file}: must be a JSON object`);
  const missing = QUESTION_FILE_KEYS.filter((k) => !(k in raw));
  if (missing.length) throw new Error(`${file}: missing top-level field(s) ${missing.join(', ')} (the official loader requires them)`);
}

/** Scores a results file against questions and annotations with the official rules, or the legacy ones. */
export function scoreResultsFile(questionsFile: string, annotationsFile: string, resultsFile: string, rules: EvalRules): FileScore {
  checkQuestionsFile(questionsFile);
  const annotations: VqaAnnotation[] = readAnnotations(annotationsFile);
  const seen = new Set<number>();
  for (const a of annotations) {
    if (seen.has(a.question_id)) throw new Error(`${annotationsFile}: question_id ${a.question_id} is annotated twice`);
    seen.add(a.question_id);
  }
  const warnings: string[] = [];
  const results = readResults(resultsFile, warnings);
  const missing = annotations.filter((a) => !results.has(a.question_id)).map((a) => a.question_id);
  const extra = [...results.keys()].filter((id) => !seen.has(id));
  if (missing.length || extra.length) {
    const parts = [];
    if (missing.length) parts.push(`no answer for ${listIds(missing)} annotated question(s)`);
    if (extra.length) parts.push(`answers for ${listIds(extra)} question(s) not in ${annotationsFile}`);
    throw new Error(`${resultsFile}: does not cover the annotated questions exactly: ${parts.join('; ')}`);
  }
  const perQuestion: Record<string, number> = {};
  const scored = annotations.map((a) => {
    const accuracy = vqaAccuracy(
      results.get(a.question_id)!,
      a.answers.map((x) => x.answer),
      rules,
    );
    perQuestion[String(a.question_id)] = Number((100 * accuracy).toFixed(2));
    return { questionId: a.question_id, questionType: a.question_type, answerType: a.answer_type, accuracy };
  });
  return { report: summarize(scored), perQuestion, warnings };
}
