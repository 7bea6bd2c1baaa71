import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { decodeNormalized } from '../data/images.ts';
import { MAX_INPUT_PIXELS } from '../util/image_limits.ts';
import { QuestionTokenizer } from '../language/tokenizer.ts';
import { trainedWords, type TokenizerFiles } from '../language/tokenizer_files.ts';
import type { ModelConfig } from '../config/config.ts';
import { TokenizedQuestions, type EncodedQuestion } from '../language/question_rows.ts';
import { splitWords, UNK } from '../language/tokenizer.ts';
import { loadPretrainedModels, type PretrainedModels, type PretrainedRecords } from '../model/pretrained_encoders.ts';
import { decoderMessage } from '../util/decoder_message.ts';

/** One question made ready for the network (plain arrays, transferable to a worker). */
export interface PreparedQuestion {
  /** normalised pixels [H, W, 3] or region features [N, C] */
  image: Float32Array;
  /** identifies the uploaded image (a hash of its bytes): questions about one image in a batch share its encoding */
  imageKey: string;
  /** token ids [T] or token states [T, C] */
  text: Int32Array | Float32Array;
  tokens: string[];
  /** the question's words that training never saw (lower-cased, in order, once each) */
  unknownWords: string[];
  topK: number;
}

/** Raised for input the client must fix (the server maps it to a 4xx). */
export class BadInputError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/**
 * Turns an uploaded image and a question into what the network reads: pixels or, with a pretrained
 * image model, region features extracted now; token ids or, with a pretrained text model, its states.
 */
export class InputPreparer {
  private readonly tokens: TokenizedQuestions;
  private readonly tokenizer: QuestionTokenizer;
  private readonly trained?: Set<string>;

  constructor(
    private readonly cfg: ModelConfig,
    tokenizer: TokenizerFiles,
    private readonly pretrainedModels: PretrainedModels,
  ) {
    this.tokenizer = new QuestionTokenizer(tokenizer);
    this.tokens = new TokenizedQuestions(this.tokenizer, cfg.language.maxTokens);
    this.trained = trainedWords(tokenizer);
  }

  /** For a saved model: loads the pretrained models it was trained with (checked against its records). */
  static async forModel(cfg: ModelConfig, tokenizer: TokenizerFiles, pretrained: PretrainedRecords): Promise<InputPreparer> {
    return new InputPreparer(cfg, tokenizer, await loadPretrainedModels(cfg, pretrained));
  }

  async prepare(image: Buffer, question: string, topK: number, maxPixels = MAX_INPUT_PIXELS): Promise<PreparedQuestion> {
    await checkImageSize(image, maxPixels);
    const [pixelsOrFeatures, text] = await Promise.all([this.readImage(image), this.readQuestion(question)]);
    return {
      image: pixelsOrFeatures,
      imageKey: createHash('sha256').update(image).digest('hex'),
      text: text.values,
      tokens: text.tokens,
      unknownWords: this.unknownWords(question),
      topK,
    };
  }

  /** Words of the question that no training question had (none known for a pretrained text model's tokenizer). */
  unknownWords(question: string): string[] {
    const trained = this.trained;
    if (!trained) return [];
    return [...new Set(splitWords(question).filter((w) => !trained.has(w)))];
  }

  private async readImage(image: Buffer): Promise<Float32Array> {
    const undecodable = (err: Error) => {
      throw new BadInputError('bad_image', `the image could not be decoded (${decoderMessage(err)})`);
    };
    const model = this.pretrainedModels.image;
    if (model) {
      const decoded = await model.decode(image).catch(undecodable);
      return (await model.extract([decoded])).rows[0]!;
    }
    return decodeNormalized(image, this.cfg.imageSize).catch(undecodable);
  }

  private async readQuestion(question: string): Promise<EncodedQuestion> {
    const limit = this.cfg.language.maxTokens;
    if (this.pretrainedModels.text) return (await this.pretrainedModels.text.states([question], limit))[0]!;
    // A question cut short would be answered for the words left (another object, silently): refuse it instead.
    const length = this.tokenizer.count(question);
    if (length > limit)
      throw new BadInputError(
        'question_too_long',
        `the question is ${length} tokens long (a token is a word, or a piece of a word the model spells out); this model reads at most ${limit}`,
      );
    const encoded = this.tokens.encode(question);
    // Answering a question none of whose words the model knows would only give the answer prior.
    if (encoded.tokens.every((t) => t === UNK)) throw new BadInputError('no_known_words', 'the question has no word the model knows (it reads letters and digits)');
    return encoded;
  }
}

/** Checks the pixel count from the header, before any full decode. */
export async function checkImageSize(image: Buffer, maxPixels: number): Promise<void> {
  let width: number | undefined;
  let height: number | undefined;
  try {
    ({ width, height } = await sharp(image, { limitInputPixels: false }).metadata());
  } catch (err) {
    throw new BadInputError('bad_image', `the image could not be read (${decoderMessage(err as Error)})`);
  }
  if (!width || !height) throw new BadInputError('bad_image', 'the image has no dimensions');
  if (width * height > maxPixels) {
    throw new BadInputError('image_too_large', `the image is ${width}×${height} = ${width * height} pixels; the limit is ${maxPixels}`, 413);
  }
}
