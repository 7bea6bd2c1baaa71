import { decodeRgb } from '../util/decode_rgb.ts';
import type { RowFile } from './packed_store.ts';

/**
 * Decodes an image file or buffer to size×size RGB bytes: EXIF rotation applied, alpha flattened
 * onto white, grey/palette/CMYK converted to sRGB, then resized (aspect ratio not kept).
 */
export async function decodeImage(input: string | Buffer, size: number): Promise<Uint8Array> {
  return decodeRgb(input, size, size);
}

/** The spread the input normalisation divides by. */
export const IMAGE_SCALE = 0.25;

/** Model input normalisation: (x/255 − 0.5) / 0.25 per channel. */
export function normalizePixels(bytes: Uint8Array, out: Float32Array, offset: number): void {
  for (let i = 0; i < bytes.length; i++) out[offset + i] = (bytes[i]! / 255 - 0.5) / IMAGE_SCALE;
}

/** An uploaded image as the network reads it: decoded to size×size, then normalised. */
export async function decodeNormalized(input: Buffer, size: number): Promise<Float32Array> {
  const bytes = await decodeImage(input, size);
  const pixels = new Float32Array(bytes.length);
  normalizePixels(bytes, pixels, 0);
  return pixels;
}

/** What the network reads for each image of a split: a fixed shape of floats per image id. */
export interface ImageRows {
  /** shape of one image's values: [H, W, 3] pixels or [N, C] region features */
  readonly shape: number[];
  /** writes the image's values into `out` at `offset` */
  write(imageId: number, out: Float32Array, offset: number): void;
}

/** Every image of a split decoded once into a packed store, row r = image r, read as batches need them. */
export class ImageTable implements ImageRows {
  private readonly rows = new Map<number, number>();

  constructor(
    readonly imageIds: number[],
    readonly size: number,
    private readonly file: RowFile,
  ) {
    imageIds.forEach((id, r) => this.rows.set(id, r));
    if (file.rowCount !== imageIds.length || file.rowBytes !== this.pixelsPerImage) throw new Error(`${file.file}: its rows do not match the images`);
  }

  get pixelsPerImage(): number {
    return this.size * this.size * 3;
  }

  get shape(): number[] {
    return [this.size, this.size, 3];
  }

  write(imageId: number, out: Float32Array, offset: number): void {
    normalizePixels(this.row(imageId), out, offset);
  }

  row(imageId: number): Uint8Array {
    const r = this.rows.get(imageId);
    if (r === undefined) throw new Error(`image ${imageId} is not in this split`);
    return this.file.read(r);
  }
}
