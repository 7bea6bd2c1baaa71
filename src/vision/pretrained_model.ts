import sharp from 'sharp';
import type { PreTrainedModel, Processor, Tensor } from '@xenova/transformers';
import { MAX_INPUT_PIXELS } from '../util/image_limits.ts';
import { checkRecord, loadingFolder, locateModelFolder, localTransformers, recordFolder, type FolderRecord, type PretrainedSpec } from '../pretrained/folder.ts';

/** Longest side an image is decoded at before the model's own processor resizes it. */
const DECODE_MAX_SIDE = 1024;

export interface RegionFeatures {
  /** one [N·C] row per image, region-major */
  rows: Float32Array[];
  grid: [number, number];
  width: number;
}

export type DecodedImage = InstanceType<typeof import('@xenova/transformers').RawImage>;

/**
 * A pretrained image model from a local folder, run by @xenova/transformers (onnxruntime). It yields
 * region features: the cells of a CNN's last feature map ([B, C, h, w]), or a ViT/DINOv2's patch
 * tokens without the class token ([B, 1 + N, D]).
 */
export class PretrainedImageModel {
  private constructor(
    readonly record: FolderRecord,
    private readonly processor: Processor,
    private readonly model: PreTrainedModel,
    private readonly makeImage: (data: Uint8Array, width: number, height: number) => DecodedImage,
  ) {}

  /** Loads the model folder, checking it against the one a checkpoint recorded, if any. */
  static async load(spec: PretrainedSpec, recorded?: FolderRecord): Promise<PretrainedImageModel> {
    const located = locateModelFolder(spec.model, 'vision', spec.quantized);
    const record = recordFolder(spec.model, located);
    checkRecord('vision', record, recorded, located.dir);
    const t = await localTransformers(located.root);
    const [processor, model] = await loadingFolder('vision', located, () =>
      Promise.all([t.AutoProcessor.from_pretrained(located.id), t.AutoModel.from_pretrained(located.id, { quantized: spec.quantized })]),
    );
    return new PretrainedImageModel(record, processor, model, (data, w, h) => new t.RawImage(data, w, h, 3));
  }

  /** Decodes a file or buffer the way every image is read (EXIF rotation, alpha on white, sRGB). */
  async decode(input: string | Buffer): Promise<DecodedImage> {
    const { data, info } = await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'truncated' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .resize(DECODE_MAX_SIDE, DECODE_MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return this.makeImage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), info.width, info.height);
  }

  /** The region grid and feature width, from one blank image. */
  async probe(): Promise<{ grid: [number, number]; width: number }> {
    const { grid, width } = await this.extract([this.makeImage(new Uint8Array(64 * 64 * 3).fill(255), 64, 64)]);
    return { grid, width };
  }

  /** Region features of several images in one forward pass. */
  async extract(images: DecodedImage[]): Promise<RegionFeatures> {
    const { pixel_values } = await this.processor(images);
    const outputs = (await this.model({ pixel_values })) as Record<string, Tensor>;
    const out = outputs.last_hidden_state ?? Object.values(outputs)[0]!;
    return toRegions(out.data as Float32Array, out.dims);
  }
}

/** [B, C, h, w] grid → rows of [h·w, C]; [B, 1 + N, D] tokens → rows of [N, D] without the class token. */
export function toRegions(data: Float32Array, dims: number[]): RegionFeatures {
  if (dims.length === 4) {
    const [b, c, h, w] = dims as [number, number, number, number];
    const n = h * w;
    const rows = Array.from({ length: b }, (_, i) => {
      const row = new Float32Array(n * c);
      for (let ch = 0; ch < c; ch++) for (let r = 0; r < n; r++) row[r * c + ch] = data[(i * c + ch) * n + r]!;
      return row;
    });
    return { rows, grid: [h, w], width: c };
  }
  if (dims.length === 3) {
    const [b, tokens, width] = dims as [number, number, number];
    const n = tokens - 1;
    const side = Math.round(Math.sqrt(n));
    const rows = Array.from({ length: b }, (_, i) => data.slice((i * tokens + 1) * width, (i + 1) * tokens * width));
    return { rows, grid: side * side === n ? [side, side] : [1, n], width };
  }
  throw new Error(
    `image model output has shape [${dims.join(', ')}]; region features need [B, C, h, w] or [B, 1 + N, D]: ` +
      'use a folder exported for feature extraction (its ONNX file outputs last_hidden_state), not one with a classification head',
  );
}
