import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../export/onnx_graph.ts';
import { attend as onnxAttend, l2Normalize as onnxL2Normalize, maskedSoftmax as onnxMaskedSoftmax } from '../export/onnx_ops.ts';
import { createFusion, Mfb, type Fusion } from '../fusion/index.ts';
import { TransformerEncoder } from '../language/transformer.ts';
import { CnnEncoder } from '../vision/cnn.ts';
import { FrozenRegionEncoder } from '../vision/frozen_regions.ts';
import { FrozenTokenEncoder } from '../language/frozen_states.ts';
import { regionGrid, type ModelConfig } from './config.ts';
import { Dense } from './layers.ts';
import { dropout, gatherRows, l2Normalize, maskedSoftmax, matMul } from './ops.ts';
import { ParamStore } from './params.ts';

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
  /** image attention over grid cells [B, Gi, N] */
  imageAttention: tf.Tensor3D;
}

/** A pretrained model's feature width, which training reads from the model before building the network. */
function probed(width: number | undefined, part: string, model: string): number {
  if (width === undefined) throw new Error(`model.${part}.width is not set: the pretrained model '${model}' has not been probed`);
  return width;
}

/** Two-layer per-position MLP to `glimpses` attention logits. */
class GlimpseMlp {
  private readonly hidden: Dense;
  private readonly out: Dense;

  constructor(store: ParamStore, name: string, inDim: number, hiddenDim: number, glimpses: number, private readonly rate: number) {
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

/** Σ_n weights[b,g,n] · features[b,n,:] for each glimpse g, concatenated: [B, G·D]. */
function attend(features: tf.Tensor3D, weights: tf.Tensor3D): tf.Tensor2D {
  const [b, , dim] = features.shape;
  const glimpses = weights.shape[1];
  const pooled = matMul(weights, features); // [B, G, D]
  return tf.reshape(pooled, [b, glimpses * dim]) as tf.Tensor2D;
}

/**
 * The MFB co-attention network: question self-attention (QAtt), question-guided image attention
 * whose per-region scores come from MFB(region, q) normalised jointly over regions (IAtt), then
 * MFB or MFH fusion of the attended image and question, and a linear classifier.
 */
export class VqaNet {
  readonly store: ParamStore;
  private readonly vision: CnnEncoder | FrozenRegionEncoder;
  private readonly language: TransformerEncoder | FrozenTokenEncoder;
  private readonly questionGlimpses: GlimpseMlp;
  /** MFB (projected once per image) or another fusion applied to every (question, region) pair */
  private readonly regionFusion: Mfb | Fusion;
  private readonly imageGlimpses: GlimpseMlp;
  private readonly fusion: Fusion;
  private readonly classifier: Dense;

  constructor(readonly cfg: ModelConfig, vocabSize: number, readonly numAnswers: number, seed: number) {
    this.store = new ParamStore(seed);
    const { d, questionAttention: qa, imageAttention: ia, fusion } = cfg;
    const qDim = qa.glimpses * d;
    const vDim = ia.glimpses * d;
    this.vision = cfg.vision.kind === 'cnn' ? new CnnEncoder(this.store, cfg.vision, d) : new FrozenRegionEncoder(this.store, probed(cfg.vision.width, 'vision', cfg.vision.model), d);
    const lang = cfg.language;
    this.language = lang.kind === 'transformer' ? new TransformerEncoder(this.store, d, lang, cfg.dropout, vocabSize) : new FrozenTokenEncoder(this.store, probed(lang.width, 'language', lang.model), d);
    this.questionGlimpses = new GlimpseMlp(this.store, 'qatt', d, qa.hidden, qa.glimpses, cfg.dropout);
    const regionShape = { k: ia.k, o: ia.o, dropout: cfg.dropout };
    this.regionFusion = ia.fusion === 'mfb' ? new Mfb(this.store, 'iatt.mfb', d, qDim, regionShape) : createFusion(ia.fusion, this.store, 'iatt.fusion', d, qDim, regionShape);
    this.imageGlimpses = new GlimpseMlp(this.store, 'iatt', this.regionFusion.outDim, ia.hidden, ia.glimpses, cfg.dropout);
    this.fusion = createFusion(fusion.kind, this.store, 'fusion', vDim, qDim, { k: fusion.k, o: fusion.o, dropout: cfg.dropout });
    this.classifier = new Dense(this.store, 'classifier', this.fusion.outDim, numAnswers);
  }

  forward(inputs: NetInputs, training: boolean): NetOutputs {
    const words = this.language.apply(inputs.tokens, inputs.mask, training); // [B, T, d]
    const tokenMask = tf.expandDims(inputs.mask, 1); // [B, 1, T]
    const questionLogits = tf.transpose(this.questionGlimpses.apply(words, training), [0, 2, 1]); // [B, Gq, T]
    const questionWeights = maskedSoftmax(questionLogits, tokenMask, 2) as tf.Tensor3D;
    const q = attend(words, questionWeights); // [B, Gq·d]

    let perImage = this.vision.apply(inputs.images, training); // [I, N, d]
    if (this.cfg.blind) perImage = tf.zerosLike(perImage);
    const regions = gatherRows(perImage, inputs.imageIndex) as tf.Tensor3D; // [B, N, d]
    const regionFused = this.scoreRegions(perImage, regions, q, inputs.imageIndex, training); // [B, N, o]
    const imageWeights = tf.softmax(tf.transpose(this.imageGlimpses.apply(regionFused, training), [0, 2, 1])) as tf.Tensor3D; // [B, Gi, N]
    const v = attend(regions, imageWeights); // [B, Gi·d]

    const fused = this.fusion.apply(v, q, training);
    const logits = this.classifier.apply(fused) as tf.Tensor2D;
    return { logits, questionAttention: questionWeights, imageAttention: imageWeights };
  }

  /** `forward` in inference mode as ONNX nodes: logits [B, A], attention [B, Gq, T] and [B, Gi, N]. */
  toOnnx(g: OnnxGraph, inputs: OnnxNetInputs): Record<keyof NetOutputs, Value> {
    const { cfg } = this;
    const words = this.language.toOnnx(g, inputs.tokens, inputs.mask);
    const questionLogits = g.transpose(this.questionGlimpses.toOnnx(g, words), [0, 2, 1]);
    const questionWeights = onnxMaskedSoftmax(g, questionLogits, g.unsqueeze(inputs.mask, [1]), 2);
    const q = onnxAttend(g, words, questionWeights);

    let perImage = this.vision instanceof CnnEncoder ? this.vision.toOnnx(g, inputs.images, cfg.imageSize) : this.vision.toOnnx(g, inputs.images);
    if (cfg.blind) perImage = g.op('Mul', [perImage, g.scalar(0)]);
    const regions = g.op('Gather', [perImage, inputs.imageIndex], { axis: { int: 0 } });
    const regionFused = this.scoreRegionsToOnnx(g, perImage, regions, q, inputs.imageIndex);
    const imageWeights = g.op('Softmax', [g.transpose(this.imageGlimpses.toOnnx(g, regionFused), [0, 2, 1])], { axis: { int: -1 } });
    const v = onnxAttend(g, regions, imageWeights);

    const logits = this.classifier.toOnnx(g, this.fusion.toOnnx(g, v, q));
    return { logits, questionAttention: questionWeights, imageAttention: imageWeights };
  }

  private scoreRegionsToOnnx(g: OnnxGraph, perImage: Value, regions: Value, q: Value, imageIndex: Value): Value {
    const fusion = this.regionFusion;
    if (fusion instanceof Mfb) {
      const regionProjected = g.op('Gather', [fusion.projectX.toOnnx(g, perImage), imageIndex], { axis: { int: 0 } });
      const pooled = fusion.poolToOnnx(g, g.op('Mul', [regionProjected, g.unsqueeze(fusion.projectY.toOnnx(g, q), [1])]), 3);
      const { norm } = this.cfg.imageAttention;
      return norm === 'none' ? pooled : onnxL2Normalize(g, pooled, norm === 'joint' ? [1, 2] : [2]);
    }
    const [h, w] = regionGrid(this.cfg);
    const n = h * w;
    const qPerRegion = g.op('Expand', [g.unsqueeze(q, [1]), g.int64s([1, n, 1])]); // [B, N, qDim]
    const pairs = fusion.toOnnx(g, g.reshape(regions, [-1, this.cfg.d]), g.reshape(qPerRegion, [-1, this.cfg.questionAttention.glimpses * this.cfg.d]));
    return g.reshape(pairs, [-1, n, fusion.outDim]);
  }

  /** Each region fused with the question: the input of the image attention's scores. */
  private scoreRegions(perImage: tf.Tensor3D, regions: tf.Tensor3D, q: tf.Tensor, imageIndex: tf.Tensor1D, training: boolean): tf.Tensor3D {
    const fusion = this.regionFusion;
    if (fusion instanceof Mfb) {
      // Region projections depend only on the image: computed once per image, then gathered per question.
      const regionProjected = fusion.projectX.apply(perImage); // [I, N, k·o]
      const e = fusion.expand(gatherRows(regionProjected, imageIndex), tf.expandDims(fusion.projectY.apply(q), 1), training);
      // L2 norm jointly over all regions of a sample (openvqa, Caffe) or per region (config).
      const pooled = fusion.pool(e);
      const { norm } = this.cfg.imageAttention;
      return (norm === 'none' ? pooled : l2Normalize(pooled, norm === 'joint' ? [1, 2] : [2])) as tf.Tensor3D;
    }
    const [b, n, d] = regions.shape;
    const qDim = q.shape[1]!;
    const pairs = fusion.apply(tf.reshape(regions, [b * n, d]), tf.reshape(tf.tile(tf.expandDims(q, 1), [1, n, 1]), [b * n, qDim]), training);
    return tf.reshape(pairs, [b, n, fusion.outDim]) as tf.Tensor3D;
  }

  dispose(): void {
    this.store.dispose();
  }
}
