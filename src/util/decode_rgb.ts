import sharp from 'sharp';
import { MAX_INPUT_PIXELS } from './image_limits.ts';

/**
 * Decodes an image file or buffer to width × height RGB bytes, the way every image is read: EXIF
 * rotation applied, alpha flattened onto white, grey/palette/CMYK converted to sRGB, then resized
 * (aspect ratio not kept).
 */
export async function decodeRgb(input: string | Buffer, width: number, height: number): Promise<Uint8Array> {
  const { data, info } = await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'truncated' })
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .resize(width, height, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels instead of 3`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
