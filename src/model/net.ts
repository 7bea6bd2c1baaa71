import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { attend as onnxAttend, maskedSoftmax as onnxMaskedSoftmax } from '../nn/onnx_ops.ts';
import { createFusion, type Fusion } from '../fusion/index.ts';
import { TransformerEncoder } from '../language/transformer.ts';
import { CnnEncoder } from '../vision/cnn.ts';
import { FrozenRegionEncoder } from '../vision/frozen_regions.ts';
import type { RegionEncoder } from '../vision/region_encoder.ts';
import { FrozenTokenEncoder } from '../language/frozen_states.ts';
import type { TokenEncoder } from '../language/token_encoder.ts';
import { imageAttentionMaps, regionGrid, type ModelConfig } from '../config/config.ts';
import { Dense } from '../nn/layers.ts';
import { GlimpsePair } from './glimpse_pair.ts';
import { GlimpsePositions } from './glimpse_positions.ts';
import { GuideSlope } from './guide_slope.ts';
import { GlimpseMlp, ImageAttentionHop } from './image_attention.ts';
import { RelationalModule } from './relational.ts';
import { attend, gatherRows, maskedSoftmax } from '../nn/ops.ts';
import { ParamStore } from '../nn/params.ts';

export interface NetInputs {
  /** distinct images of the batch: normalised pixels [I, H, W, 3] (cnn) or region features [I, N, C] (pretrained) */
  images: tf.Tensor;
  /** for each question, the row of `images` it asks about: [B] int32 */
  imageIndex: tf.Tensor1D;
  /** token ids [B, T] int32 (transformer) or token states [B, T, C] (pretrained), and the mask [B, T] float (1 = real token) */
  tokens: tf.Tensor;
  mask: tf.Tensor2D;
}

/** The same inputs as values of an ONNX graph (imageIndex and token ids int32). */
export type OnnxNetInputs = Record<keyof NetInputs, Value>;

export interface NetOutputs {
  logits: tf.Tensor2D;
  /** question attention [B, Gq, T] */
  questionAttention: tf.Tensor3D;
  /** image attention over grid cells, each hop's glimpses then the relational module's [B, maps·Gi, N] (config imageAttentionMaps) */
  imageAttention: tf.Tensor3D;
}

/** A pretrained model's feature width, which training reads from the model before building the network. */
function probed(width: number | undefined, part: string, model: string): number {
  if (width === undefined) throw new Error(`model.${part}.width is not set: the pretrained model '${model}' has not been probed`);
  return width;
}

/**
 * The MFB co-attention network: question self-attention (QAtt), question-guided image attention
 * whose per-region scores come from MFB(region, q) normalised jointly over regions (IAtt), then
 * MFB or MFH fusion of the attended image and question, and a linear classifier.
 */
export class VqaNet {
  readonly store: ParamStore;
  private readonly vision: RegionEncoder;
  private readonly language: TokenEncoder;
  private readonly questionGlimpses: GlimpseMlp;
  /** the image attention's own glimpses over the token embeddings (imageAttention.query 'word-embeddings', 'word-embeddings-by-context') */
  private readonly guideGlimpses?: GlimpseMlp;
  /** a learned slope per guide glimpse over the words' places (imageAttention.guideSlope) */
  private readonly guideSlope?: GuideSlope;
  private readonly imageHops: ImageAttentionHop[] = [];
  private readonly relational?: RelationalModule;
  /** where each attention map looked, into the fusion (imageAttention.positions) */
  private readonly positions?: GlimpsePositions;
  /** the product of hop 1's first two objects, into the fusion (imageAttention.pair) */
  private readonly pair?: GlimpsePair;
  private readonly fusion: Fusion;
  private readonly classifier: Dense;
  /**
   * Whether the relational module's features reach the fusion: false while a staged module waits for
   * its curriculum to end (config relationalOn), so that validation and a model saved then answer
   * as training ran. toOnnx always uses it; forward unless a training step passes its own.
   */
  relationalOn = true;
  /** the question vector pools the token embeddings (questionAttention.values) */
  private readonly questionFromEmbeddings: boolean;

  constructor(
    readonly cfg: ModelConfig,
    vocabSize: number,
    readonly numAnswers: number,
    seed: number,
  ) {
    this.store = new ParamStore(seed);
    const { d, questionAttention: qa, imageAttention: ia, fusion } = cfg;
    const qDim = qa.glimpses * d;
    const vDim = ia.glimpses * d;
    const [h, w] = regionGrid(cfg);
    this.vision =
      cfg.vision.kind === 'cnn'
        ? new CnnEncoder(this.store, cfg.vision, d, h * w, cfg.imageSize)
        : new FrozenRegionEncoder(this.store, probed(cfg.vision.width, 'vision', cfg.vision.model), d);
    const lang = cfg.language;
    this.language =
      lang.kind === 'transformer'
        ? new TransformerEncoder(this.store, d, lang, cfg.dropout, vocabSize)
        : new FrozenTokenEncoder(this.store, probed(lang.width, 'language', lang.model), d);
    this.questionGlimpses = new GlimpseMlp(this.store, 'qatt', d, qa.hidden, qa.glimpses, cfg.dropout);
    this.questionFromEmbeddings = qa.values === 'word-embeddings';
    if (ia.query !== 'question') this.guideGlimpses = new GlimpseMlp(this.store, 'iatt.wordatt', d, qa.hidden, qa.glimpses, cfg.dropout);
    for (let hop = 1; hop <= ia.hops; hop++)
      this.imageHops.push(new ImageAttentionHop(this.store, cfg, hop, hop === 1 ? qDim : qDim + vDim, h * w, hop === 1 && ia.guidePerGlimpse));
    const guideDim = cfg.relational?.guideInContext ? qDim : 0; // the guide has the question vector's width
    if (cfg.relational) this.relational = new RelationalModule(this.store, d, vDim + qDim + guideDim, { ...cfg.relational, glimpses: ia.glimpses, grid: [h, w] });
    if (ia.guideSlope > 0) this.guideSlope = new GuideSlope(this.store, qa.glimpses, ia.guideSlope, cfg.language.maxTokens);
    if (ia.positions > 0) this.positions = new GlimpsePositions([h, w], ia.positions);
    const pairDim = ia.pair?.o ?? 0;
    const imageDim = ia.hops * vDim + (this.relational?.outDim ?? 0) + (this.positions ? 2 * imageAttentionMaps(cfg) : 0) + pairDim;
    this.fusion = createFusion(fusion.kind, this.store, 'fusion', imageDim, qDim, { k: fusion.k, o: fusion.o, dropout: cfg.dropout });
    this.classifier = new Dense(this.store, 'classifier', this.fusion.outDim, numAnswers);
    if (cfg.relational?.distanceScore) this.relational!.withDistanceScore(this.store, qDim, ia.glimpses);
    if (ia.pair) this.pair = new GlimpsePair(this.store, d, ia.pair, ia.pair.scale);
  }

  /** `relationalOn` false zeroes the relational module's features (model.relational.staged). */
  forward(inputs: NetInputs, training: boolean, relationalOn = this.relationalOn): NetOutputs {
    const words = this.language.apply(inputs.tokens, inputs.mask, training); // [B, T, d]
    const tokenMask = tf.expandDims(inputs.mask, 1); // [B, 1, T]
    /** glimpse weights over the tokens from `keys`, pooling `values` */
    const pool = (glimpses: GlimpseMlp, keys: tf.Tensor3D, values = keys, offsets?: tf.Tensor3D) => {
      const logits = glimpses.apply(keys, training); // [B, T, Gq]
      const weights = maskedSoftmax(tf.transpose(offsets ? tf.add(logits, offsets) : logits, [0, 2, 1]), tokenMask, 2) as tf.Tensor3D; // [B, Gq, T]
      return { weights, vector: attend(values, weights) }; // [B, Gq·d]
    };
    const embeddings = this.questionFromEmbeddings || this.guideGlimpses ? this.language.tokenVectors(inputs.tokens) : undefined;
    const { weights: questionWeights, vector: q } = pool(this.questionGlimpses, words, this.questionFromEmbeddings ? embeddings : words);

    let perImage = this.vision.apply(inputs.images, training); // [I, N, d]
    if (this.cfg.blind) perImage = tf.zerosLike(perImage);
    const regions = gatherRows(perImage, inputs.imageIndex) as tf.Tensor3D; // [B, N, d]
    const guide = this.guideGlimpses
      ? pool(this.guideGlimpses, this.cfg.imageAttention.query === 'word-embeddings' ? embeddings! : words, embeddings, this.guideSlope?.apply(inputs.mask)).vector
      : q;
    const vs: tf.Tensor2D[] = [];
    const hopWeights: tf.Tensor3D[] = [];
    for (const hop of this.imageHops) {
      const query = vs.length ? tf.concat([guide, vs.at(-1)!], 1) : guide;
      const weights = hop.weights({ perImage, regions, imageIndex: inputs.imageIndex, query }, training); // [B, Gi, N]
      hopWeights.push(weights);
      vs.push(attend(regions, weights)); // [B, Gi·d]
    }
    const on = (t: tf.Tensor) => (relationalOn ? t : tf.mul(t, 0)) as tf.Tensor2D; // zero, so no gradient reaches the module
    // places are staged with the relational module: the first phase's questions do not need them
    if (this.positions) vs.push(...hopWeights.map((weights) => on(this.positions!.apply(weights))));
    if (this.relational) {
      const context = tf.concat(this.cfg.relational!.guideInContext ? [vs[0]!, q, guide] : [vs[0]!, q], 1);
      const rel = this.relational.apply({ regions, context, anchor: hopWeights[0]!, question: q });
      vs.push(on(rel.features));
      if (this.positions) vs.push(on(this.positions.apply(rel.weights as tf.Tensor3D)));
      hopWeights.push(rel.weights as tf.Tensor3D);
    }
    if (this.pair) vs.push(on(this.pair.apply(vs[0]!)));
    const v = vs.length === 1 ? vs[0]! : tf.concat(vs, 1);
    const imageWeights = (hopWeights.length === 1 ? hopWeights[0]! : tf.concat(hopWeights, 1)) as tf.Tensor3D; // [B, maps·Gi, N]

    const fused = this.fusion.apply(v, q, training);
    const logits = this.classifier.apply(fused) as tf.Tensor2D;
    return { logits, questionAttention: questionWeights, imageAttention: imageWeights };
  }

  /** `forward` in inference mode as ONNX nodes: logits [B, A], attention [B, Gq, T] and [B, Gi, N]. */
  toOnnx(g: OnnxGraph, inputs: OnnxNetInputs): Record<keyof NetOutputs, Value> {
    const { cfg } = this;
    const words = this.language.toOnnx(g, inputs.tokens, inputs.mask);
    const pool = (glimpses: GlimpseMlp, keys: Value, values = keys, offsets?: Value) => {
      const logits = glimpses.toOnnx(g, keys);
      const weights = onnxMaskedSoftmax(g, g.transpose(offsets ? g.op('Add', [logits, offsets]) : logits, [0, 2, 1]), g.unsqueeze(inputs.mask, [1]), 2);
      return { weights, vector: onnxAttend(g, values, weights) };
    };
    const embeddings = this.questionFromEmbeddings || this.guideGlimpses ? this.language.tokenVectorsToOnnx(g, inputs.tokens) : undefined;
    const { weights: questionWeights, vector: q } = pool(this.questionGlimpses, words, this.questionFromEmbeddings ? embeddings : words);

    let perImage = this.vision.toOnnx(g, inputs.images);
    if (cfg.blind) perImage = g.op('Mul', [perImage, g.scalar(0)]);
    const regions = g.op('Gather', [perImage, inputs.imageIndex], { axis: { int: 0 } });
    const guide = this.guideGlimpses
      ? pool(this.guideGlimpses, cfg.imageAttention.query === 'word-embeddings' ? embeddings! : words, embeddings, this.guideSlope?.toOnnx(g, inputs.mask)).vector
      : q;
    const vs: Value[] = [];
    const hopWeights: Value[] = [];
    for (const hop of this.imageHops) {
      const query = vs.length ? g.op('Concat', [guide, vs.at(-1)!], { axis: { int: 1 } }) : guide;
      const weights = hop.weightsToOnnx(g, { perImage, regions, imageIndex: inputs.imageIndex, query });
      hopWeights.push(weights);
      vs.push(onnxAttend(g, regions, weights));
    }
    const on = (v: Value) => (this.relationalOn ? v : g.op('Mul', [v, g.scalar(0)]));
    if (this.positions) vs.push(...hopWeights.map((weights) => on(this.positions!.toOnnx(g, weights))));
    if (this.relational) {
      const context = g.op('Concat', cfg.relational!.guideInContext ? [vs[0]!, q, guide] : [vs[0]!, q], { axis: { int: 1 } });
      const rel = this.relational.toOnnx(g, { regions, context, anchor: hopWeights[0]!, question: q });
      vs.push(on(rel.features));
      if (this.positions) vs.push(on(this.positions.toOnnx(g, rel.weights)));
      hopWeights.push(rel.weights);
    }
    if (this.pair) vs.push(on(this.pair.toOnnx(g, vs[0]!)));
    const v = vs.length === 1 ? vs[0]! : g.op('Concat', vs, { axis: { int: 1 } });
    const imageWeights = hopWeights.length === 1 ? hopWeights[0]! : g.op('Concat', hopWeights, { axis: { int: 1 } });

    const logits = this.classifier.toOnnx(g, this.fusion.toOnnx(g, v, q));
    return { logits, questionAttention: questionWeights, imageAttention: imageWeights };
  }

  /** Re-estimates the CNN's batch-norm statistics from batches of images (pretrained features have none). */
  recalibrateBatchNorm(imageBatches: Iterable<tf.Tensor4D>): void {
    this.vision.recalibrate?.(imageBatches);
  }

  dispose(): void {
    this.store.dispose();
  }
}
