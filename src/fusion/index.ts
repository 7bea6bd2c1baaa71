import type { tf } from '../backend/tf.ts';
import type { ParamStore } from '../model/params.ts';
import { Mfb, type MfbShape } from './mfb.ts';
import { Mfh } from './mfh.ts';

export { Mfb, sumPoolSqrt, type MfbShape } from './mfb.ts';
export { Mfh } from './mfh.ts';

/** A fusion of two vectors into one, as used for the final question–image fusion. */
export interface Fusion {
  readonly outDim: number;
  apply(x: tf.Tensor, y: tf.Tensor, training: boolean): tf.Tensor;
}

export type FusionKind = 'mfb' | 'mfh';

export function createFusion(kind: FusionKind, store: ParamStore, name: string, xDim: number, yDim: number, shape: MfbShape): Fusion {
  return kind === 'mfh' ? new Mfh(store, name, xDim, yDim, shape) : new Mfb(store, name, xDim, yDim, shape);
}
