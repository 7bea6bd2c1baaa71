/** One generated question with its single answer (all ten annotators agree on generated data). */
export interface GeneratedQuestion {
  question: string;
  answer: string;
  questionType: string;
  answerType: 'yes/no' | 'number' | 'other';
}

export interface GeneratedImage {
  pixels: Uint8Array;
  questions: GeneratedQuestion[];
}

export interface Generator {
  kind: string;
  /** question_type families grouped for reporting (e.g. relational / non-relational) */
  questionGroups: Record<string, string[]>;
  generate(index: number, split: string): GeneratedImage;
}
