import { z } from 'zod';
import { readJsonFile } from '../util/json_file.ts';

/** No question of VQA v2 comes near this; a longer string is a broken file, not a question. */
export const MAX_QUESTION_CHARS = 1000;

// The official VQA v2 question and annotation formats (only the fields the pipeline reads are required).
const QuestionSchema = z.object({
  image_id: z.number().int(),
  question: z.string().max(MAX_QUESTION_CHARS, `is longer than ${MAX_QUESTION_CHARS} characters`),
  question_id: z.number().int(),
});
const AnswerSchema = z.object({ answer: z.string(), answer_confidence: z.string().optional(), answer_id: z.number().int().optional() });
const AnnotationFields = {
  question_id: z.number().int(),
  image_id: z.number().int(),
  question_type: z.string(),
  answer_type: z.string(),
  multiple_choice_answer: z.string().optional(),
};
// The official files hold ten answers per question; the accuracy is defined over ten.
const AnnotationSchema = z.object({ ...AnnotationFields, answers: z.array(AnswerSchema).length(10, 'must hold exactly 10 answers') });
const QuestionsFileSchema = z.object({ questions: z.array(QuestionSchema) });
const AnnotationsFileSchema = z.object({ annotations: z.array(AnnotationSchema) });
/** Any number of answers, for `vqa data check`, which lists every problem of a file rather than the first. */
const LenientAnnotationsFileSchema = z.object({ annotations: z.array(z.object({ ...AnnotationFields, answers: z.array(AnswerSchema) })) });

export type VqaQuestion = z.infer<typeof QuestionSchema>;
export type VqaAnnotation = z.infer<typeof AnnotationSchema>;

function parseWith<T>(schema: z.ZodType<T>, raw: unknown, file: string): T {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.slice(0, 5).map((i) => `field '${i.path.join('.')}': ${i.message}`);
  const more = r.error.issues.length > 5 ? `\n  … and ${r.error.issues.length - 5} more` : '';
  throw new Error(`${file}: not in the VQA v2 format\n  ${problems.join('\n  ')}${more}`);
}

/** The question_ids that occur more than once in `rows`, each once. */
export function repeatedIds(rows: { question_id: number }[]): number[] {
  const seen = new Set<number>();
  return [...new Set(rows.filter((r) => seen.size === seen.add(r.question_id).size).map((r) => r.question_id))];
}

/** Refuses a file in which a question_id occurs twice, naming the first few. */
function uniqueIds<T extends { question_id: number }>(rows: T[], file: string, field: string): T[] {
  const twice = repeatedIds(rows);
  if (twice.length) throw new Error(`${file}: field '${field}[].question_id': ${twice.length} id(s) occur more than once, e.g. ${twice.slice(0, 5).join(', ')}`);
  return rows;
}

/** The questions of a file; `lenient` (for `vqa data check`) allows repeated ids. */
export function readQuestions(file: string, lenient = false): VqaQuestion[] {
  const questions = parseWith(QuestionsFileSchema, readJsonFile(file), file).questions;
  return lenient ? questions : uniqueIds(questions, file, 'questions');
}

/** The annotations of a file; `lenient` (for `vqa data check`) allows repeated ids and other answer counts. */
export function readAnnotations(file: string, lenient = false): VqaAnnotation[] {
  if (lenient) return parseWith(LenientAnnotationsFileSchema, readJsonFile(file), file).annotations;
  return uniqueIds(parseWith(AnnotationsFileSchema, readJsonFile(file), file).annotations, file, 'annotations');
}

/** Joins questions with their annotations; every question must have one with the same image. */
export function joinAnnotations(questions: VqaQuestion[], annotations: VqaAnnotation[], questionsFile: string, annotationsFile: string): Map<number, VqaAnnotation> {
  const byId = new Map(annotations.map((a) => [a.question_id, a]));
  const missing: number[] = [];
  for (const q of questions) {
    const a = byId.get(q.question_id);
    if (!a) missing.push(q.question_id);
    else if (a.image_id !== q.image_id) {
      throw new Error(`${annotationsFile}: question_id ${q.question_id} has image_id ${a.image_id}, but ${questionsFile} says ${q.image_id}`);
    }
  }
  if (missing.length > 0) {
    throw new Error(`${annotationsFile}: no annotation for ${missing.length} question(s) of ${questionsFile}, e.g. question_id ${missing.slice(0, 5).join(', ')}`);
  }
  return byId;
}
