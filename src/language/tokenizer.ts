import { PreTrainedTokenizer } from '@xenova/transformers';
import { TRAINED_WORDS, type TokenizerFiles } from './tokenizer_files.ts';

export const PAD = '[PAD]';
export const UNK = '[UNK]';

export interface Encoded {
  /** exactly maxTokens ids, padded with the pad id */
  ids: number[];
  /** the pieces behind the ids (for showing attention), without padding */
  tokens: string[];
}

/**
 * One way to read questions for every language encoder: a Hugging Face tokenizer (`tokenizer.json` +
 * `tokenizer_config.json`) run by @xenova/transformers' tokenizer classes. The from-scratch transformer
 * uses a WordPiece vocabulary built from the training questions; a pretrained encoder uses its own
 * folder's tokenizer, special tokens included.
 */
export class QuestionTokenizer {
  private readonly hf: PreTrainedTokenizer;
  private readonly padId: number;

  constructor(readonly files: TokenizerFiles) {
    this.hf = new PreTrainedTokenizer(files.tokenizer, files.config);
    this.padId = this.hf.pad_token_id ?? 0;
  }

  /**
   * WordPiece vocabulary from training questions: [PAD], [UNK], every word (most frequent first),
   * then each character seen as a word start and as a continuation (##c), so that an unseen word is
   * spelled out in pieces rather than lost as [UNK].
   */
  static build(questions: string[]): QuestionTokenizer {
    const words = wordsByFrequency(questions);
    const known = new Set(words);
    const chars = [...new Set(words.flatMap((w) => [...w]))].sort();
    const pieces = [...chars, ...chars.map((c) => `##${c}`)].filter((p) => !known.has(p));
    return QuestionTokenizer.fromVocabulary([PAD, UNK, ...words, ...pieces], words.length);
  }

  /**
   * Whole words for a model that reads a word-vector table: [PAD], [UNK], the training questions'
   * words, then the table's other words; a word in neither is [UNK].
   */
  static withWordVectors(questions: string[], tableWords: readonly string[]): QuestionTokenizer {
    const words = wordsByFrequency(questions);
    const known = new Set(words);
    return QuestionTokenizer.fromVocabulary([PAD, UNK, ...words, ...tableWords.filter((w) => !known.has(w))], words.length);
  }

  /**
   * A WordPiece tokenizer over exactly this vocabulary (id = position), with our question
   * normalisation; the `trainedWords` entries after [PAD], [UNK] are the words training saw.
   */
  static fromVocabulary(vocab: string[], trainedWords = vocab.length - 2): QuestionTokenizer {
    if (vocab[0] !== PAD || vocab[1] !== UNK) throw new Error(`tokenizer vocabulary must start with ${PAD}, ${UNK}`);
    const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    return new QuestionTokenizer({
      tokenizer: {
        version: '1.0',
        added_tokens: [special(PAD, 0), special(UNK, 1)],
        normalizer: {
          type: 'Sequence',
          normalizers: [{ type: 'Lowercase' }, { type: 'Replace', pattern: { Regex: QUESTION_SEPARATORS }, content: ' ' }],
        },
        pre_tokenizer: { type: 'WhitespaceSplit' },
        post_processor: null,
        decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
        model: {
          type: 'WordPiece',
          unk_token: UNK,
          continuing_subword_prefix: '##',
          max_input_chars_per_word: 100,
          vocab: Object.fromEntries(vocab.map((w, i) => [w, i])),
        },
      },
      config: { tokenizer_class: 'PreTrainedTokenizer', pad_token: PAD, unk_token: UNK, model_max_length: 512, [TRAINED_WORDS]: trainedWords },
    });
  }

  get size(): number {
    return this.hf.model.vocab.length;
  }

  /** The vocabulary, id = position. */
  vocabulary(): string[] {
    return [...this.hf.model.vocab] as string[];
  }

  /** How many tokens the question is, uncut (special tokens included). */
  count(text: string): number {
    return (this.hf.encode(text) as number[]).length;
  }

  /** Ids (special tokens included, as the tokenizer's post-processor adds them) truncated or padded to `maxTokens`. */
  encode(text: string, maxTokens: number): Encoded {
    const ids = (this.hf.encode(text) as number[]).slice(0, maxTokens);
    const tokens = ids.map((id) => this.hf.model.vocab[id] ?? UNK);
    while (ids.length < maxTokens) ids.push(this.padId);
    return { ids, tokens };
  }
}

/** Everything but lower-case letters, digits and apostrophes separates words (after lower-casing). */
const QUESTION_SEPARATORS = "[^a-z0-9']+";

/** A question's words as the tokenizer reads them. */
export function splitWords(text: string): string[] {
  return text.toLowerCase().split(new RegExp(QUESTION_SEPARATORS)).filter(Boolean);
}

function wordsByFrequency(questions: string[]): string[] {
  const counts = new Map<string, number>();
  for (const q of questions) for (const w of splitWords(q)) counts.set(w, (counts.get(w) ?? 0) + 1);
  return [...counts].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1)).map(([w]) => w);
}
