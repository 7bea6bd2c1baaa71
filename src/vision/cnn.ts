import { tf } from '../backend/tf.ts';
import { Dense } from '../model/layers.ts';
import { ConvTrunk } from './conv_trunk.ts';
import type { ParamStore } from '../model/params.ts';
import type { ModelConfig } from '../model/config.ts';

type CnnConfig = Extract<ModelConfig['vision'], { kind: 'cnn' }>;

/**
 * Conv blocks (3×3 conv, batch norm, ReLU), two coordinate channels appended to the last
 * feature map, then a linear map of every grid cell to width d: one region per cell.
 */
export class CnnEncoder {
  private readonly trunk: ConvTrunk;
  private readonly project: Dense;

  constructor(store: ParamStore, vision: CnnConfig, d: number) {
    this.trunk = new ConvTrunk(store, 'vision', vision.channels, vision.strides);
    this.project = new Dense(store, 'vision.project', this.trunk.outChannels + 2, d);
  }

  /** images [I, H, W, 3] (normalised) → regions [I, h·w, d] */
  apply(images: tf.Tensor, training: boolean): tf.Tensor3D {
    const x = this.trunk.apply(images as tf.Tensor4D, training);
    const [n, h, w, c] = x.shape;
    const withCoords = tf.concat([x, coordinateChannels(n, h, w)], 3);
    const regions = tf.reshape(withCoords, [n, h * w, c + 2]);
    return this.project.apply(regions) as tf.Tensor3D;
  }
}

/** x and y of each cell centre in [-1, 1], as two channels. */
function coordinateChannels(n: number, h: number, w: number): tf.Tensor4D {
  const ys = tf.linspace(-1, 1, h);
  const xs = tf.linspace(-1, 1, w);
  const yGrid = tf.tile(tf.reshape(ys, [h, 1, 1]), [1, w, 1]);
  const xGrid = tf.tile(tf.reshape(xs, [1, w, 1]), [h, 1, 1]);
  return tf.tile(tf.expandDims(tf.concat([xGrid, yGrid], 2), 0), [n, 1, 1, 1]) as tf.Tensor4D;
}
