import type { tf } from '../backend/tf.ts';
import { Dense } from '../nn/layers.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import { ConvTrunk } from './conv_trunk.ts';
import { regionCentres } from './region_centres.ts';
import type { Encoded, RegionEncoder } from './region_encoder.ts';

/**
 * Conv blocks (3×3 conv, batch norm, ReLU), two coordinate channels appended to the last
 * feature map, then a linear map of every grid cell to width d: one region per cell.
 */
export class CnnEncoder implements RegionEncoder {
  private readonly trunk: ConvTrunk;
  /** [C + 2, d]: the feature channels' rows, then x's and y's */
  private readonly project: Dense;
  private readonly cells: number;
  /** each cell's centre, x then y in [-1, 1]: the coordinate channels */
  private readonly coordinates: Float32Array;

  /** `inputChannels`: 3 (RGB), or more that a module adds before the trunk */
  constructor(store: ParamStore, vision: { channels: number[]; strides: number[]; init?: 'he' | 'fan-in-uniform' }, d: number, grid: [number, number], inputChannels = 3) {
    this.trunk = new ConvTrunk(store, 'vision', vision.channels, vision.strides, { inputChannels, init: vision.init });
    this.project = new Dense(store, 'vision.project', this.trunk.outChannels + 2, d);
    this.cells = grid[0] * grid[1];
    this.coordinates = regionCentres(...grid);
  }

  forward<T>(o: Ops<T>, images: T): T {
    return this.encode(o, images).regions;
  }

  /**
   * images [I, H, W, C] (normalised) → regions [I, h·w, d]. [features, x, y]·W + b is computed as
   * features·W_f + ([x, y]·W_xy + b): the coordinates are the same for every image.
   */
  encode<T>(o: Ops<T>, images: T): Encoded<T> {
    const c = this.trunk.outChannels;
    const maps = this.trunk.maps(o, images);
    const features = o.reshape(maps.at(-1)!, [0, this.cells, c]);
    const w = o.param(this.project.w);
    const coordinateTerm = o.add(o.matMul(o.constant(this.coordinates, [this.cells, 2]), o.slice(w, 0, c, 2)), o.param(this.project.b));
    return { regions: o.add(o.matMul(features, o.slice(w, 0, 0, c)), coordinateTerm), maps };
  }

  get mapChannels(): readonly number[] {
    return this.trunk.channels;
  }

  /** Batch-norm statistics re-estimated from batches of (normalised) images: see ConvTrunk.recalibrate. */
  recalibrate(imageBatches: Iterable<tf.Tensor4D>): void {
    this.trunk.recalibrate(imageBatches);
  }
}
