import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { l2Normalize as onnxL2Normalize, signedSqrt as onnxSignedSqrt } from '../nn/onnx_ops.ts';
import { createFusion, type Fusion } from '../fusion/index.ts';
import type { ModelConfig } from '../config/config.ts';
import { Dense } from '../nn/layers.ts';
import { dropout, l2Normalize, signedSqrt } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';

/** Two-layer per-position MLP to `glimpses` attention logits. */
export class GlimpseMlp {
  private readonly hidden: Dense;
  private readonly out: Dense;

  constructor(
    store: ParamStore,
    name: string,
    inDim: number,
    hiddenDim: number,
    glimpses: number,
    private readonly rate: number,
  ) {
    this.hidden = new Dense(store, `${name}.hidden`, inDim, hiddenDim);
    this.out = new Dense(store, `${name}.out`, hiddenDim, glimpses);
  }

  apply(x: tf.Tensor, training: boolean): tf.Tensor {
    return this.out.apply(dropout(tf.relu(this.hidden.apply(x)), this.rate, training));
  }

  toOnnx(g: OnnxGraph, x: Value): Value {
    return this.out.toOnnx(g, g.op('Relu', [this.hidden.toOnnx(g, x)]));
  }
}

/** What one hop reads: each image's regions once, the rows of the questions' images, and the hop's query. */
export interface HopInputs<T> {
  /** regions of the distinct images [I, N, d] */
  perImage: T;
  /** regions of each question's image [B, N, d] */
  regions: T;
  /** the row of `perImage` of each question [B] */
  imageIndex: T;
  /** the question vector, after hop 1 joined by the previous hop's image vector [B, queryDim] */
  query: T;
}

/**
 * One hop of question-guided attention over image regions: each region is fused with the query
 * (MFB, whose region projections are computed once per image, or another fusion per pair), an
 * MLP scores it per glimpse, and a softmax over regions gives the weights [B, Gi, N].
 * Parameters are named `iatt…` for hop 1 (as before hops existed) and `iatt<h>…` for hop h, the
 * region fusion's `iatt.fusion…` whichever fusion it is (checkpoints from before name MFB's
 * `iatt.mfb…`: see LEGACY_NAMES in model/checkpoint.ts).
 */
export class ImageAttentionHop {
  private readonly regionFusion: Fusion;
  private readonly glimpses: GlimpseMlp;

  /** the query's parts, one per glimpse, each scored alone (`perGlimpse`), or the whole query once */
  private readonly queryParts: number;
  /** the width of one query part: the query a region is fused with */
  private readonly partWidth: number;

  /**
   * `perGlimpse`: the query is G guide glimpses side by side and glimpse g scores the regions
   * against part g alone, with one region fusion and a one-output MLP shared by the glimpses
   * (imageAttention.guidePerGlimpse), so that each glimpse can follow its own phrase.
   */
  constructor(
    store: ParamStore,
    private readonly cfg: ModelConfig,
    hop: number,
    queryDim: number,
    private readonly regionCount: number,
    perGlimpse = false,
  ) {
    const { d, imageAttention: ia } = cfg;
    const name = hop === 1 ? 'iatt' : `iatt${hop}`;
    const shape = { k: ia.fusion.k, o: ia.fusion.o, dropout: cfg.dropout };
    this.queryParts = perGlimpse ? ia.glimpses : 1;
    this.partWidth = queryDim / this.queryParts;
    this.regionFusion = createFusion(ia.fusion.kind, store, `${name}.fusion`, d, this.partWidth, shape);
    this.glimpses = new GlimpseMlp(store, name, this.regionFusion.outDim, ia.hidden, perGlimpse ? 1 : ia.glimpses, cfg.dropout);
  }

  weights(x: HopInputs<tf.Tensor>, training: boolean): tf.Tensor3D {
    const width = this.partWidth;
    const perPart = Array.from({ length: this.queryParts }, (_, p) => {
      const query = this.queryParts === 1 ? x.query : tf.slice(x.query, [0, p * width], [-1, width]);
      return this.glimpses.apply(this.scoreRegions({ ...x, query }, training), training); // [B, N, G or 1]
    });
    const logits = tf.transpose(perPart.length === 1 ? perPart[0]! : tf.concat(perPart, 2), [0, 2, 1]);
    return tf.softmax(this.scaled(logits)) as tf.Tensor3D;
  }

  weightsToOnnx(g: OnnxGraph, x: HopInputs<Value>): Value {
    const width = this.partWidth;
    const perPart = Array.from({ length: this.queryParts }, (_, p) => {
      const query = this.queryParts === 1 ? x.query : g.op('Slice', [x.query, g.int64s([p * width]), g.int64s([(p + 1) * width]), g.int64s([1])]);
      return this.glimpses.toOnnx(g, this.scoreRegionsToOnnx(g, { ...x, query }));
    });
    const logits = g.transpose(perPart.length === 1 ? perPart[0]! : g.op('Concat', perPart, { axis: { int: 2 } }), [0, 2, 1]);
    const { logitScale } = this.cfg.imageAttention;
    return g.op('Softmax', [logitScale === 1 ? logits : g.op('Mul', [logits, g.scalar(logitScale)])], { axis: { int: -1 } });
  }

  private scaled(logits: tf.Tensor): tf.Tensor {
    const { logitScale } = this.cfg.imageAttention;
    return logitScale === 1 ? logits : tf.mul(logits, logitScale);
  }

  /**
   * Each region fused with the query: [B, N, outDim]. A fusion that fuses regions itself (MFB)
   * gives its bilinear pool, to which the attention's own signed square root and L2 norm apply.
   */
  private scoreRegions(x: HopInputs<tf.Tensor>, training: boolean): tf.Tensor {
    const fusion = this.regionFusion;
    if (fusion.fuseRegions) {
      const summed = fusion.fuseRegions(x.perImage, x.imageIndex as tf.Tensor1D, x.query, training);
      const { norm, signedSqrt: sqrt } = this.cfg.imageAttention;
      const pooled = sqrt ? signedSqrt(summed) : summed;
      // L2 norm jointly over all regions of a sample (openvqa, Caffe) or per region (config).
      return norm === 'none' ? pooled : l2Normalize(pooled, norm === 'joint' ? [1, 2] : [2]);
    }
    const [b, n, d] = x.regions.shape as [number, number, number];
    const width = x.query.shape[1]!;
    const pairs = fusion.apply(tf.reshape(x.regions, [b * n, d]), tf.reshape(tf.tile(tf.expandDims(x.query, 1), [1, n, 1]), [b * n, width]), training);
    return tf.reshape(pairs, [b, n, fusion.outDim]);
  }

  private scoreRegionsToOnnx(g: OnnxGraph, x: HopInputs<Value>): Value {
    const fusion = this.regionFusion;
    if (fusion.fuseRegionsToOnnx) {
      const summed = fusion.fuseRegionsToOnnx(g, x.perImage, x.imageIndex, x.query);
      const { norm, signedSqrt: sqrt } = this.cfg.imageAttention;
      const pooled = sqrt ? onnxSignedSqrt(g, summed) : summed;
      return norm === 'none' ? pooled : onnxL2Normalize(g, pooled, norm === 'joint' ? [1, 2] : [2]);
    }
    const n = this.regionCount;
    const qPerRegion = g.op('Expand', [g.unsqueeze(x.query, [1]), g.int64s([1, n, 1])]); // [B, N, query width]
    const pairs = fusion.toOnnx(g, g.reshape(x.regions, [-1, this.cfg.d]), g.reshape(qPerRegion, [-1, this.partWidth]));
    return g.reshape(pairs, [-1, n, fusion.outDim]);
  }
}
