import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import type { ParamStore } from '../nn/params.ts';

/**
 * A learned slope per glimpse of the image attention's guide over the words' relative places,
 * added to its word logits: s_g·(t/(len − 1) − ½), s starting evenly from −K (glimpse 1 reads
 * the question's first words) to +K (the last glimpse its last words). A question about two
 * objects names them in two phrases; without it every glimpse reads the same words and hop 1
 * attends one object or a mix, however the rest learns (docs/experiments.md §11).
 */
export class GuideSlope {
  private readonly slope: tf.Variable;

  constructor(
    store: ParamStore,
    glimpses: number,
    initial: number,
    private readonly maxTokens: number,
  ) {
    this.slope = store.add('iatt.wordatt.slope', [glimpses], 'zeros');
    const start = Array.from({ length: glimpses }, (_, g) => (glimpses === 1 ? 0 : -initial + (2 * initial * g) / (glimpses - 1)));
    tf.tidy(() => this.slope.assign(tf.tensor1d(start)));
  }

  /** mask [B, T] (1 = a real token) → the logits' offsets [B, T, G] */
  apply(mask: tf.Tensor2D): tf.Tensor3D {
    const places = tf.range(0, this.maxTokens, 1, 'float32'); // [T]
    const last = tf.maximum(tf.sub(tf.sum(mask, 1, true), 1), 1); // [B, 1]
    const relative = tf.sub(tf.div(places, last), 0.5); // [B, T]
    return tf.mul(tf.expandDims(relative, 2), this.slope) as tf.Tensor3D;
  }

  toOnnx(g: OnnxGraph, mask: Value): Value {
    const places = g.floats(
      'iatt.wordatt.places',
      Float32Array.from({ length: this.maxTokens }, (_, t) => t),
      [this.maxTokens],
    );
    const last = g.op('Max', [g.op('Sub', [g.op('ReduceSum', [mask, g.int64s([1])], { keepdims: { int: 1 } }), g.scalar(1)]), g.scalar(1)]);
    const relative = g.op('Sub', [g.op('Div', [places, last]), g.scalar(0.5)]);
    return g.op('Mul', [g.unsqueeze(relative, [2]), g.tensor('iatt.wordatt.slope', this.slope)]);
  }
}
