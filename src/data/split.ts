import path from 'node:path';
import { imagePath, splitFiles, type Dataset } from './manifest.ts';
import { joinAnnotations, readAnnotations, readQuestions, type VqaAnnotation } from './vqa_files.ts';

export interface Sample {
  questionId: number;
  imageId: number;
  question: string;
  /** absent for splits without annotations (they can be predicted, not scored) */
  annotation?: VqaAnnotation;
}

export interface LoadedSplit {
  name: string;
  samples: Sample[];
  /** distinct image ids in first-seen order */
  imageIds: number[];
  imagePath: (imageId: number) => string;
}

/** Loads a split; `subset` keeps the first N images by id and all their questions. */
export function loadSplit(ds: Dataset, split: string, subset?: number): LoadedSplit {
  const files = splitFiles(ds, split);
  const qFile = path.join(ds.dir, files.questions);
  const questions = readQuestions(qFile);
  if (questions.length === 0) throw new Error(`${qFile}: field 'questions' is empty: the ${split} split has no questions`);
  let annotations: Map<number, VqaAnnotation> | undefined;
  if (files.annotations) {
    const aFile = path.join(ds.dir, files.annotations);
    annotations = joinAnnotations(questions, readAnnotations(aFile), qFile, aFile);
  }
  let kept = questions;
  if (subset !== undefined) {
    const firstImages = new Set([...new Set(questions.map((q) => q.image_id))].sort((a, b) => a - b).slice(0, subset));
    kept = questions.filter((q) => firstImages.has(q.image_id));
  }
  const samples = kept.map((q) => ({
    questionId: q.question_id,
    imageId: q.image_id,
    question: q.question,
    annotation: annotations?.get(q.question_id),
  }));
  const imageIds = [...new Set(samples.map((s) => s.imageId))];
  return { name: split, samples, imageIds, imagePath: (id) => imagePath(ds, split, id) };
}
