import { tf } from '../backend/tf.ts';
import { Dense } from '../model/layers.ts';
import type { ParamStore } from '../model/params.ts';

/** The trained part of `language: pretrained`: a linear map of each frozen token state to width d. */
export class FrozenTokenEncoder {
  private readonly project: Dense;

  constructor(store: ParamStore, stateWidth: number, d: number) {
    this.project = new Dense(store, 'language.project', stateWidth, d);
  }

  /** token states [B, T, C] (padding rows are masked later) → [B, T, d] */
  apply(states: tf.Tensor, _mask: tf.Tensor2D, _training: boolean): tf.Tensor3D {
    return this.project.apply(states) as tf.Tensor3D;
  }
}
