import { z } from 'zod';
import { IMAGE_SCALE } from '../data/images.ts';
import type { Ops } from '../nn/ops.ts';
import { borderMean } from './background_channels.ts';

/**
 * The CNN reads the scene with its background painted white: a pixel whose colour lies within
 * `low` levels (0–255, in every channel) of the border's mean colour becomes white, one that
 * differs by `high` or more in some channel keeps its colour, and one in between is blended. A
 * scene drawn on any plain background then looks like one drawn on white, so the trunk learns
 * shapes and colours once instead of once per background (docs/experiments.md §18). For scenes on
 * a plain background; no parameters of its own.
 */
export const WhiteBackgroundSchema = z
  .object({
    kind: z.literal('white-background'),
    /** below this difference from the border colour (levels), a pixel is background: above noise and JPEG ringing */
    low: z.number().min(0).max(255).default(16),
    /** from this difference on, a pixel is the object's own colour */
    high: z.number().min(1).max(255).default(32),
  })
  .strict()
  .refine((m) => m.high > m.low, { message: 'high must be above low' });

export type WhiteBackgroundConfig = z.infer<typeof WhiteBackgroundSchema>;

/** normalised images [I, S, S, 3] → the same with the background white. */
export function whiteBackground<T>(o: Ops<T>, images: T, size: number, cfg: WhiteBackgroundConfig): T {
  const difference = o.max(absolute(o, o.sub(images, borderMean(o, images, size))), 3, true); // [I, S, S, 1]
  const low = cfg.low / 255 / IMAGE_SCALE;
  const object = clampToUnit(o, o.div(o.sub(difference, low), cfg.high / 255 / IMAGE_SCALE - low));
  const white = (1 - 0.5) / IMAGE_SCALE;
  return o.add(o.mul(o.sub(images, white), object), white);
}

function absolute<T>(o: Ops<T>, x: T): T {
  return o.add(o.relu(x), o.relu(o.mul(x, -1)));
}

/** min(max(x, 0), 1) from the ops every backend records */
function clampToUnit<T>(o: Ops<T>, x: T): T {
  return o.sub(1, o.relu(o.sub(1, o.relu(x))));
}
