// Small functions of several operations, written once for both implementations of Ops.
import type { Ops } from './ops.ts';

/** Σ_n weights[b,g,n] · features[b,n,:] for each glimpse g, concatenated: [B, G·D]. */
export function attend<T>(o: Ops<T>, features: T, weights: T): T {
  return o.reshape(o.matMul(weights, features), [0, -1]);
}

/**
 * z / √(‖z‖₂² + ε²) with the norm taken jointly over `axes`: ε² inside the root (as Caffe adds its
 * ε there) keeps the gradient finite at z = 0, where the square root's own derivative is infinite.
 */
export function l2Normalize<T>(o: Ops<T>, z: T, axes: number[], eps = 1e-12): T {
  return o.div(z, o.sqrt(o.add(o.sum(o.square(z), axes, true), eps * eps)));
}

/** Softmax over `axis` where mask = 0 entries get no weight (mask is broadcastable to logits). */
export function maskedSoftmax<T>(o: Ops<T>, logits: T, mask: T, axis: number): T {
  const masked = o.add(logits, o.mul(o.sub(1, mask), -1e9));
  const e = o.mul(o.exp(o.sub(masked, o.max(masked, axis, true))), mask);
  return o.div(e, o.add(o.sum(e, [axis], true), 1e-12));
}

/** [..., k·o] → [..., o]: the sum of each of o contiguous groups of k. */
export function sumPool<T>(o: Ops<T>, e: T, k: number, width: number): T {
  const lead = Array<number>(o.rank(e) - 1).fill(0);
  return o.sum(o.reshape(e, [...lead, width, k]), [lead.length + 1], false);
}
