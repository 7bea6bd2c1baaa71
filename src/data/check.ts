import fs from 'node:fs';
import path from 'node:path';
import { imagePath, loadDataset, MANIFEST_FILE } from './manifest.ts';
import { readAnnotations, readQuestions, type VqaAnnotation, type VqaQuestion } from './vqa_files.ts';

const ANSWER_TYPES = new Set(['yes/no', 'number', 'other']);

export interface CheckReport {
  problems: string[];
  summary: string[];
}

function examples(ids: number[]): string {
  return `${ids.length} (e.g. ${ids.slice(0, 5).join(', ')})`;
}

/** Validates a data set folder; every problem names its file and field. Never throws on bad data. */
export function checkDataset(dir: string): CheckReport {
  const problems: string[] = [];
  const summary: string[] = [];
  let ds;
  try {
    ds = loadDataset(dir);
  } catch (err) {
    return { problems: [(err as Error).message], summary };
  }
  for (const [split, files] of Object.entries(ds.manifest.splits)) {
    const qFile = path.join(dir, files.questions);
    let questions: VqaQuestion[] = [];
    try {
      questions = readQuestions(qFile);
    } catch (err) {
      problems.push((err as Error).message);
      continue;
    }
    const seen = new Set<number>();
    const duplicates = questions.filter((q) => (seen.has(q.question_id) ? true : (seen.add(q.question_id), false))).map((q) => q.question_id);
    if (duplicates.length) problems.push(`${qFile}: field 'questions[].question_id': duplicated ids ${examples(duplicates)}`);
    const imageIds = [...new Set(questions.map((q) => q.image_id))];
    const missingImages = imageIds.filter((id) => !fs.existsSync(imagePath(ds, split, id)));
    if (missingImages.length) {
      problems.push(`${path.join(dir, files.images)}: ${missingImages.length} image file(s) missing, e.g. ${missingImages.slice(0, 3).map((id) => imagePath(ds, split, id)).join(', ')}`);
    }
    let annotated = 'no annotations';
    if (files.annotations) {
      const aFile = path.join(dir, files.annotations);
      let annotations: VqaAnnotation[] = [];
      try {
        annotations = readAnnotations(aFile);
      } catch (err) {
        problems.push((err as Error).message);
      }
      const byId = new Map(annotations.map((a) => [a.question_id, a]));
      const unannotated = questions.filter((q) => !byId.has(q.question_id)).map((q) => q.question_id);
      if (unannotated.length) problems.push(`${aFile}: no annotation for question_id ${examples(unannotated)}`);
      const qIds = new Set(questions.map((q) => q.question_id));
      const orphan = annotations.filter((a) => !qIds.has(a.question_id)).map((a) => a.question_id);
      if (orphan.length) problems.push(`${aFile}: annotations for unknown question_id ${examples(orphan)}`);
      const qImage = new Map(questions.map((q) => [q.question_id, q.image_id]));
      const wrongImage = annotations.filter((a) => qImage.has(a.question_id) && qImage.get(a.question_id) !== a.image_id).map((a) => a.question_id);
      if (wrongImage.length) problems.push(`${aFile}: field 'image_id' disagrees with ${qFile} for question_id ${examples(wrongImage)}`);
      const notTen = annotations.filter((a) => a.answers.length !== 10).map((a) => a.question_id);
      if (notTen.length) problems.push(`${aFile}: field 'answers' does not hold 10 answers for question_id ${examples(notTen)}`);
      const badType = annotations.filter((a) => !ANSWER_TYPES.has(a.answer_type)).map((a) => a.question_id);
      if (badType.length) problems.push(`${aFile}: field 'answer_type' is not yes/no, number or other for question_id ${examples(badType)}`);
      annotated = `${annotations.length} annotations`;
    }
    summary.push(`${split}: ${questions.length} questions, ${imageIds.length} images, ${annotated}`);
  }
  if (Object.keys(ds.manifest.splits).length === 0) problems.push(`${path.join(dir, MANIFEST_FILE)}: field 'splits' is empty`);
  return { problems, summary };
}
