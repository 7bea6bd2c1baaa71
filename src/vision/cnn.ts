import { tf } from '../backend/tf.ts';
import { BatchNorm, Conv2d, Dense } from '../model/layers.ts';
import type { ParamStore } from '../model/params.ts';
import type { ModelConfig } from '../model/config.ts';

/**
 * Conv blocks (3×3 conv, batch norm, ReLU), two coordinate channels appended to the last
 * feature map, then a linear map of every grid cell to width d: one region per cell.
 */
export class CnnEncoder {
  private readonly convs: Conv2d[] = [];
  private readonly norms: BatchNorm[] = [];
  private readonly project: Dense;

  constructor(store: ParamStore, cfg: ModelConfig) {
    let inCh = 3;
    cfg.vision.channels.forEach((outCh, i) => {
      this.convs.push(new Conv2d(store, `vision.conv${i}`, inCh, outCh, 3, cfg.vision.strides[i]!));
      this.norms.push(new BatchNorm(store, `vision.bn${i}`, outCh));
      inCh = outCh;
    });
    this.project = new Dense(store, 'vision.project', inCh + 2, cfg.d);
  }

  /** images [I, H, W, 3] (normalised) → regions [I, h·w, d] */
  apply(images: tf.Tensor4D, training: boolean): tf.Tensor3D {
    let x = images;
    this.convs.forEach((conv, i) => {
      x = tf.relu(this.norms[i]!.apply(conv.apply(x), training)) as tf.Tensor4D;
    });
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
