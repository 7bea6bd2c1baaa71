import fs from 'node:fs';
import path from 'node:path';
import { decodeImage } from './images.ts';
import { imagePath, loadDataset, MANIFEST_FILE } from './manifest.ts';
import { corruptStores } from './packed_store.ts';
import { cacheDirOf } from './prepare.ts';
import { readAnnotations, readQuestions, repeatedIds, type VqaAnnotation, type VqaQuestion } from './vqa_files.ts';

const ANSWER_TYPES = new Set(['yes/no', 'number', 'other']);

export interface CheckReport {
  problems: string[];
  summary: string[];
}

function examples(ids: number[]): string {
  return `${ids.length} (e.g. ${ids.slice(0, 5).join(', ')})`;
}

/** Why an image file cannot be used ('missing', 'a loop of symbolic links', …), or undefined if it decodes. */
async function imageProblem(file: string): Promise<string | undefined> {
  try {
    if (!fs.statSync(file).isFile()) return 'not a file';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'missing' : code === 'ELOOP' ? 'a loop of symbolic links' : `unreadable (${code})`;
  }
  try {
    await decodeImage(file, 8);
    return undefined;
  } catch (err) {
    return `does not decode (${(err as Error).message.split('\n')[0]})`;
  }
}

/** Decodes every image of a split, a few at a time; lists the first few that fail and why. */
async function checkImages(files: string[], folder: string, problems: string[]): Promise<void> {
  const bad: string[] = [];
  for (let i = 0; i < files.length; i += 16) {
    const found = await Promise.all(files.slice(i, i + 16).map(async (f) => [f, await imageProblem(f)] as const));
    for (const [f, why] of found) if (why) bad.push(`${f} (${why})`);
  }
  if (bad.length) problems.push(`${folder}: ${bad.length} image file(s) cannot be used, e.g. ${bad.slice(0, 3).join(', ')}`);
}

/** Validates a data set folder, decoding every image; every problem names its file and field. Never throws on bad data. */
export async function checkDataset(dir: string): Promise<CheckReport> {
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
      questions = readQuestions(qFile, true);
    } catch (err) {
      problems.push((err as Error).message);
      continue;
    }
    if (questions.length === 0) problems.push(`${qFile}: field 'questions' is empty`);
    const duplicates = repeatedIds(questions);
    if (duplicates.length) problems.push(`${qFile}: field 'questions[].question_id': duplicated ids ${examples(duplicates)}`);
    const imageIds = [...new Set(questions.map((q) => q.image_id))];
    await checkImages(
      imageIds.map((id) => imagePath(ds, split, id)),
      path.join(dir, files.images),
      problems,
    );
    let annotated = 'no annotations';
    if (files.annotations) {
      const aFile = path.join(dir, files.annotations);
      let annotations: VqaAnnotation[] = [];
      try {
        annotations = readAnnotations(aFile, true);
      } catch (err) {
        // An unreadable file has no annotations to compare: its message alone is the problem.
        problems.push((err as Error).message);
        summary.push(`${split}: ${questions.length} questions, ${imageIds.length} images, annotations unreadable`);
        continue;
      }
      const repeated = repeatedIds(annotations);
      if (repeated.length) problems.push(`${aFile}: field 'annotations[].question_id': duplicated ids ${examples(repeated)}`);
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
  problems.push(...corruptStores(cacheDirOf(ds)));
  return { problems, summary };
}
