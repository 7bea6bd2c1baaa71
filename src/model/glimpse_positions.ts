import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { matMul } from '../nn/ops.ts';

/** The centre of each region of an h×w grid in [-1, 1], x then y, in the order of the regions (as the CNN's coordinate channels). */
export function regionCentres(h: number, w: number): Float32Array {
  const at = (i: number, n: number) => (n === 1 ? -1 : -1 + (2 * i) / (n - 1));
  const c = new Float32Array(h * w * 2);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) c.set([at(x, w), at(y, h)], 2 * (y * w + x));
  return c;
}

/**
 * Where each attention map looked: Σ_n a[b,m,n]·c_n, the weighted centre of its regions, times
 * `scale`, as [B, M·2] (x then y per map). A region's coordinates reach a pooled image vector only
 * mixed into d features by the CNN's projection, where the fusion could not compare two objects'
 * places; given as numbers, "is A left of B" is a sign of x_A − x_B (docs/experiments.md §11).
 */
export class GlimpsePositions {
  private readonly centres: Float32Array;
  private readonly regionCount: number;

  constructor(
    grid: [number, number],
    private readonly scale: number,
  ) {
    this.centres = regionCentres(...grid);
    this.regionCount = grid[0] * grid[1];
  }

  /** maps [B, M, N] → [B, M·2] */
  apply(maps: tf.Tensor3D): tf.Tensor2D {
    const [b, m, n] = maps.shape;
    const looked = matMul(tf.reshape(maps, [b * m, n]), tf.tensor2d(this.centres, [n, 2]));
    return tf.reshape(tf.mul(looked, this.scale), [b, m * 2]) as tf.Tensor2D;
  }

  toOnnx(g: OnnxGraph, maps: Value): Value {
    const looked = g.op('MatMul', [maps, g.floats('positions.centres', this.centres, [this.regionCount, 2])]); // [B, M, 2]
    return g.reshape(g.op('Mul', [looked, g.scalar(this.scale)]), [0, -1]);
  }
}
