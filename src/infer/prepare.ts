import sharp from 'sharp';
import { decodeImage, MAX_INPUT_PIXELS, normalizePixels } from '../data/images.ts';
import type { WordTokenizer } from '../language/tokenizer.ts';
import type { ModelConfig } from '../model/config.ts';

/** One question made ready for the network: normalised pixels and token ids (transferable to a worker). */
export interface PreparedQuestion {
  pixels: Float32Array;
  ids: Int32Array;
  tokens: string[];
  topK: number;
}

/** Raised for input the client must fix (the server maps it to a 4xx). */
export class BadInputError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400) {
    super(message);
  }
}

/**
 * Decodes the image (after checking its pixel count from the header, before any full decode) and
 * tokenises the question.
 */
export async function prepareQuestion(
  cfg: ModelConfig,
  tokenizer: WordTokenizer,
  image: Buffer,
  question: string,
  topK: number,
  maxPixels = MAX_INPUT_PIXELS,
): Promise<PreparedQuestion> {
  let width: number | undefined;
  let height: number | undefined;
  try {
    ({ width, height } = await sharp(image, { limitInputPixels: false }).metadata());
  } catch (err) {
    throw new BadInputError('bad_image', `the image could not be read (${(err as Error).message})`);
  }
  if (!width || !height) throw new BadInputError('bad_image', 'the image has no dimensions');
  if (width * height > maxPixels) {
    throw new BadInputError('image_too_large', `the image is ${width}×${height} = ${width * height} pixels; the limit is ${maxPixels}`, 413);
  }
  let bytes: Uint8Array;
  try {
    bytes = await decodeImage(image, cfg.imageSize);
  } catch (err) {
    throw new BadInputError('bad_image', `the image could not be decoded (${(err as Error).message})`);
  }
  const pixels = new Float32Array(bytes.length);
  normalizePixels(bytes, pixels, 0);
  const enc = tokenizer.encode(question, cfg.language.maxTokens);
  return { pixels, ids: Int32Array.from(enc.ids), tokens: enc.tokens, topK };
}
