import type { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { Dense } from '../nn/layers.ts';
import type { ParamStore } from '../nn/params.ts';
import type { RegionEncoder } from './region_encoder.ts';

/** The trained part of `vision: pretrained`: a linear map of each pretrained region feature to width d. */
export class FrozenRegionEncoder implements RegionEncoder {
  private readonly project: Dense;

  constructor(store: ParamStore, featureWidth: number, d: number) {
    this.project = new Dense(store, 'vision.project', featureWidth, d);
  }

  /** region features [I, N, C] from the feature store → regions [I, N, d] */
  apply(features: tf.Tensor, _training: boolean): tf.Tensor3D {
    return this.project.apply(features) as tf.Tensor3D;
  }

  toOnnx(g: OnnxGraph, features: Value): Value {
    return this.project.toOnnx(g, features);
  }
}
