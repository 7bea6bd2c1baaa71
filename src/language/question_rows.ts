import type { QuestionTokenizer } from './tokenizer.ts';

export interface EncodedQuestion {
  /** maxTokens token ids (width 0), or maxTokens × width token states */
  values: Int32Array | Float32Array;
  /** the real tokens, for showing attention; the positions after them are padding */
  tokens: string[];
}

/** What the network reads for each question. */
export interface QuestionRows {
  /** values per token: 0 for one token id (a trained embedding), C for pretrained token states */
  readonly width: number;
  readonly maxTokens: number;
  encode(question: string): EncodedQuestion;
}

/** Token ids for the from-scratch transformer. */
export class TokenizedQuestions implements QuestionRows {
  readonly width = 0;

  constructor(
    private readonly tokenizer: QuestionTokenizer,
    readonly maxTokens: number,
  ) {}

  encode(question: string): EncodedQuestion {
    const enc = this.tokenizer.encode(question, this.maxTokens);
    return { values: Int32Array.from(enc.ids), tokens: enc.tokens };
  }
}
