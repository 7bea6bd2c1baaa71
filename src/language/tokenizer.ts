/** Word-level tokenizer: lower case, words and numbers, a vocabulary built from training questions. */
export const PAD = '[PAD]';
export const UNK = '[UNK]';

export interface TokenizerJson {
  type: 'word';
  vocab: string[];
}

export interface Encoded {
  ids: number[];
  /** the words behind the ids (for showing attention), without padding */
  tokens: string[];
}

export class WordTokenizer {
  private readonly index: Map<string, number>;

  constructor(readonly vocab: string[]) {
    if (vocab[0] !== PAD || vocab[1] !== UNK) throw new Error(`tokenizer vocabulary must start with ${PAD}, ${UNK}`);
    this.index = new Map(vocab.map((w, i) => [w, i]));
  }

  static split(text: string): string[] {
    return text.toLowerCase().replace(/[^a-z0-9']+/g, ' ').trim().split(' ').filter(Boolean);
  }

  static build(questions: string[]): WordTokenizer {
    const counts = new Map<string, number>();
    for (const q of questions) for (const w of WordTokenizer.split(q)) counts.set(w, (counts.get(w) ?? 0) + 1);
    const words = [...counts].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1)).map(([w]) => w);
    return new WordTokenizer([PAD, UNK, ...words]);
  }

  static fromJson(json: TokenizerJson): WordTokenizer {
    return new WordTokenizer(json.vocab);
  }

  toJson(): TokenizerJson {
    return { type: 'word', vocab: this.vocab };
  }

  get size(): number {
    return this.vocab.length;
  }

  /** Ids truncated or padded (with 0) to exactly `maxTokens`. */
  encode(text: string, maxTokens: number): Encoded {
    const tokens = WordTokenizer.split(text).slice(0, maxTokens);
    const ids = tokens.map((w) => this.index.get(w) ?? 1);
    while (ids.length < maxTokens) ids.push(0);
    return { ids, tokens };
  }
}
