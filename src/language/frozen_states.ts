import type { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { Dense } from '../nn/layers.ts';
import type { ParamStore } from '../nn/params.ts';
import type { TokenEncoder } from './token_encoder.ts';

/** The trained part of `language: pretrained`: a linear map of each pretrained token state to width d. */
export class FrozenTokenEncoder implements TokenEncoder {
  private readonly project: Dense;

  constructor(store: ParamStore, stateWidth: number, d: number) {
    this.project = new Dense(store, 'language.project', stateWidth, d);
  }

  /** token states [B, T, C] (padding rows are masked later) → [B, T, d] */
  apply(states: tf.Tensor, _mask: tf.Tensor2D, _training: boolean): tf.Tensor3D {
    return this.project.apply(states) as tf.Tensor3D;
  }

  /** The projected states: the pretrained model has already mixed the words, there is nothing earlier to read. */
  tokenVectors(states: tf.Tensor): tf.Tensor3D {
    return this.project.apply(states) as tf.Tensor3D;
  }

  tokenVectorsToOnnx(g: OnnxGraph, states: Value): Value {
    return this.project.toOnnx(g, states);
  }

  toOnnx(g: OnnxGraph, states: Value, _mask: Value): Value {
    return this.project.toOnnx(g, states);
  }
}
