import { z } from 'zod';
import type { Ops } from '../nn/ops.ts';

/**
 * The CNN reads three more input channels: the image minus the mean colour of its border, the
 * colours relative to the background. A random background colour shifts every absolute colour a
 * scene has; relative to it, an object looks the same on any background (docs/experiments.md §15).
 * For a CNN image encoder; no parameters of its own (the trunk's first layer takes six channels).
 */
export const BackgroundChannelsSchema = z.object({ kind: z.literal('background-channels') }).strict();

/** images [I, S, S, 3] → [I, S, S, 6]: the image, then the image minus its border's mean colour. */
export function withBackgroundChannels<T>(o: Ops<T>, images: T, size: number): T {
  return o.concat([images, o.sub(images, borderMean(o, images, size))], 3);
}

/**
 * The mean colour of each image's border [I, 1, 1, 3]: its top and bottom rows and its left and
 * right columns (the corners counted in both), where a scene's background shows.
 */
export function borderMean<T>(o: Ops<T>, images: T, size: number): T {
  const columns = (at: number) => o.transpose(o.slice(images, 2, at, 1), [0, 2, 1, 3]);
  const edges = [o.slice(images, 1, 0, 1), o.slice(images, 1, size - 1, 1), columns(0), columns(size - 1)];
  return o.mean(o.concat(edges, 2), [1, 2], true);
}
