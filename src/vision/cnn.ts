import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { Dense } from '../nn/layers.ts';
import { ConvTrunk } from './conv_trunk.ts';
import type { ParamStore } from '../nn/params.ts';
import type { ModelConfig } from '../config/config.ts';
import type { RegionEncoder } from './region_encoder.ts';

type CnnConfig = Extract<ModelConfig['vision'], { kind: 'cnn' }>;

/**
 * Conv blocks (3×3 conv, batch norm, ReLU), two coordinate channels appended to the last
 * feature map, then a linear map of every grid cell to width d: one region per cell.
 */
export class CnnEncoder implements RegionEncoder {
  private readonly trunk: ConvTrunk;
  private readonly project: Dense;
  /** a learned vector per grid cell [h·w, d], added to its region (config vision.positionEmbedding) */
  private readonly position?: tf.Variable;

  constructor(
    store: ParamStore,
    vision: CnnConfig,
    d: number,
    cells: number,
    private readonly imageSize: number,
  ) {
    this.trunk = new ConvTrunk(store, 'vision', vision.channels, vision.strides);
    this.project = new Dense(store, 'vision.project', this.trunk.outChannels + 2, d);
    if (vision.positionEmbedding) this.position = store.add('vision.position', [cells, d], { normal: 0.1 });
  }

  /** images [I, H, W, 3] (normalised) → regions [I, h·w, d] */
  apply(images: tf.Tensor, training: boolean): tf.Tensor3D {
    const x = this.trunk.apply(images as tf.Tensor4D, training);
    const [n, h, w, c] = x.shape;
    const withCoords = tf.concat([x, coordinateChannels(n, h, w)], 3);
    const regions = this.project.apply(tf.reshape(withCoords, [n, h * w, c + 2]));
    return (this.position ? tf.add(regions, this.position) : regions) as tf.Tensor3D;
  }

  /** Batch-norm statistics re-estimated from batches of (normalised) images: see ConvTrunk.recalibrate. */
  recalibrate(imageBatches: Iterable<tf.Tensor4D>): void {
    this.trunk.recalibrate(imageBatches);
  }

  /**
   * images [I, H, W, 3] of side `imageSize` → regions [I, h·w, d]. The coordinate channels are
   * constant, so their share of the projection, plus its bias (and the position embedding), is
   * folded into one constant.
   */
  toOnnx(g: OnnxGraph, images: Value): Value {
    const map = this.trunk.toOnnx(g, g.transpose(images, [0, 3, 1, 2]), this.imageSize);
    const c = this.trunk.outChannels;
    const cells = map.size * map.size;
    const regions = g.transpose(g.reshape(map.value, [0, c, cells]), [0, 2, 1]); // [I, h·w, C]
    const { w, b, name } = this.project;
    const d = this.project.outDim;
    const [featureWeights, coordinateTerm] = tf.tidy(() => {
      const coords = tf.reshape(coordinateChannels(1, map.size, map.size), [cells, 2]);
      const constant = tf.add(tf.matMul(coords, tf.slice(w, [c, 0], [2, d])), b);
      return [tf.slice(w, [0, 0], [c, d]), this.position ? tf.add(constant, this.position) : constant];
    });
    try {
      const projected = g.op('MatMul', [regions, g.tensor(`${name}.w_features`, featureWeights)]);
      return g.op('Add', [projected, g.tensor(`${name}.coordinates_and_bias`, coordinateTerm)]);
    } finally {
      tf.dispose([featureWeights, coordinateTerm]);
    }
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
