import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { Dense } from '../nn/layers.ts';
import { attend as onnxAttend, standardize as onnxStandardize } from '../nn/onnx_ops.ts';
import { attend, matMul, standardize } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import { regionCentres } from './glimpse_positions.ts';

/** What the relational module reads. */
export interface RelationalInputs<T> {
  /** regions of each question's image [B, N, d] */
  regions: T;
  /** the object hop 1 attended and the question vector (and the attention's guide, relational.guideInContext), concatenated [B, contextDim] */
  context: T;
  /** hop 1's attention [B, G, N]: where it looked, for the distance features and scores */
  anchor: T;
  /** the question vector [B, questionDim], which scales the distance scores */
  question: T;
}

export interface RelationalOutputs<T> {
  /** [Σ_n g_n / √N, the regions pooled by the module's attention] [B, width + G·d] */
  features: T;
  /** the module's attention over regions [B, G, N] */
  weights: T;
}

/**
 * The relational module (docs/experiments.md §7): every region n is related to the object hop 1
 * attended and to the question, g_n = MLP([r_n, o, q]) (N pairs, where Relation Networks forms
 * N²), and pooled two ways: Σ_n g_n / √N, a sum that can count (a softmax cannot), and a softmax
 * over regions scored from g_n, which pools the regions themselves and can pick one by its
 * relation to o. With `distance`, each region first gets a projection of its squared distance to
 * where each glimpse of hop 1 looked, r_n + W·‖c_n − Σ_m a_m c_m‖², so that "closest" and
 * "furthest" are a monotone function away. With a distance score (`withDistanceScore`), the
 * attention's logits get s_g(q)·‖c_n − p_g‖², a question-dependent push towards near (s < 0) or
 * far (s > 0) regions; this is what lifted closest and furthest in the proxy (§7.2). With a sum
 * norm ('layer') the sum is standardised over its width, so that it cannot swamp the fusion (§10).
 */
export class RelationalModule {
  private readonly region: Dense;
  private readonly context: Dense;
  private readonly out: Dense;
  private readonly glimpses: Dense;
  private readonly distance?: Dense;
  private distanceScore?: Dense;
  private readonly centres: Float32Array;
  private readonly regionCount: number;
  readonly outDim: number;

  private readonly standardizeSum: boolean;

  constructor(
    store: ParamStore,
    d: number,
    contextDim: number,
    shape: { hidden: number; width: number; glimpses: number; grid: [number, number]; distance: boolean; sumNorm: 'none' | 'layer' },
  ) {
    this.region = new Dense(store, 'relational.region', d, shape.hidden);
    this.context = new Dense(store, 'relational.context', contextDim, shape.hidden);
    this.out = new Dense(store, 'relational.out', shape.hidden, shape.width);
    this.glimpses = new Dense(store, 'relational.glimpses', shape.width, shape.glimpses);
    if (shape.distance) this.distance = new Dense(store, 'relational.distance', shape.glimpses, d);
    this.centres = regionCentres(...shape.grid);
    this.regionCount = shape.grid[0] * shape.grid[1];
    this.outDim = shape.width + shape.glimpses * d;
    this.standardizeSum = shape.sumNorm === 'layer';
  }

  /**
   * Adds the distance score s(q) = W·q + b, one scale per glimpse. Called by the network after
   * every other weight is drawn, so that they start as they do without it: whether hop 1 finds
   * the named object depends on that draw (docs/experiments.md §7).
   */
  withDistanceScore(store: ParamStore, questionDim: number, glimpses: number): void {
    this.distanceScore = new Dense(store, 'relational.distanceScore', questionDim, glimpses);
  }

  apply(x: RelationalInputs<tf.Tensor>): RelationalOutputs<tf.Tensor> {
    const squared = this.distance || this.distanceScore ? this.squaredDistances(x.anchor) : undefined;
    const regions = this.distance ? tf.add(x.regions, this.distance.apply(squared!)) : x.regions;
    const hidden = tf.relu(tf.add(this.region.apply(regions), tf.expandDims(this.context.apply(x.context), 1)));
    const g = tf.relu(this.out.apply(hidden)); // [B, N, width]
    let logits = this.glimpses.apply(g); // [B, N, G]
    if (this.distanceScore) logits = tf.add(logits, tf.mul(tf.expandDims(this.distanceScore.apply(x.question), 1), squared!));
    const weights = tf.softmax(tf.transpose(logits, [0, 2, 1])) as tf.Tensor3D; // [B, G, N]
    const sum = tf.div(tf.sum(g, 1), Math.sqrt(this.regionCount));
    const summed = this.standardizeSum ? standardize(sum) : sum;
    return { features: tf.concat([summed, attend(regions as tf.Tensor3D, weights)], 1), weights };
  }

  /** ‖c_n − p_g‖² [B, N, G] with p_g = Σ_n anchor[b,g,n]·c_n where glimpse g looked. */
  private squaredDistances(anchor: tf.Tensor): tf.Tensor {
    const centres = tf.tensor2d(this.centres, [this.regionCount, 2]);
    const looked = matMul(anchor, centres); // [B, G, 2]
    return tf.sum(tf.square(tf.sub(tf.reshape(centres, [1, this.regionCount, 1, 2]), tf.expandDims(looked, 1))), 3);
  }

  private squaredDistancesToOnnx(g: OnnxGraph, anchor: Value): Value {
    const centres = g.floats('relational.centres', this.centres, [this.regionCount, 2]);
    const looked = g.op('MatMul', [anchor, centres]);
    const diff = g.op('Sub', [g.reshape(centres, [1, this.regionCount, 1, 2]), g.unsqueeze(looked, [1])]);
    return g.op('ReduceSum', [g.op('Mul', [diff, diff]), g.int64s([3])], { keepdims: { int: 0 } });
  }

  toOnnx(g: OnnxGraph, x: RelationalInputs<Value>): RelationalOutputs<Value> {
    const squared = this.distance || this.distanceScore ? this.squaredDistancesToOnnx(g, x.anchor) : undefined;
    const regions = this.distance ? g.op('Add', [x.regions, this.distance.toOnnx(g, squared!)]) : x.regions;
    const hidden = g.op('Relu', [g.op('Add', [this.region.toOnnx(g, regions), g.unsqueeze(this.context.toOnnx(g, x.context), [1])])]);
    const rel = g.op('Relu', [this.out.toOnnx(g, hidden)]);
    let logits = this.glimpses.toOnnx(g, rel);
    if (this.distanceScore) logits = g.op('Add', [logits, g.op('Mul', [g.unsqueeze(this.distanceScore.toOnnx(g, x.question), [1]), squared!])]);
    const weights = g.op('Softmax', [g.transpose(logits, [0, 2, 1])], { axis: { int: -1 } });
    const sum = g.op('ReduceSum', [rel, g.int64s([1])], { keepdims: { int: 0 } });
    const scaled = g.op('Div', [sum, g.scalar(Math.sqrt(this.regionCount))]);
    const summed = this.standardizeSum ? onnxStandardize(g, scaled) : scaled;
    return { features: g.op('Concat', [summed, onnxAttend(g, regions, weights)], { axis: { int: 1 } }), weights };
  }
}
