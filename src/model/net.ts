import { tf } from '../backend/tf.ts';
import { moduleOf, regionGrid, type ModelConfig, type ModuleConfig } from '../config/config.ts';
import { createFusion, type Fusion } from '../fusion/index.ts';
import { FrozenTokenEncoder } from '../language/frozen_states.ts';
import type { TokenEncoder } from '../language/token_encoder.ts';
import { TransformerEncoder } from '../language/transformer.ts';
import { withBackgroundChannels } from '../modules/background_channels.ts';
import { whiteBackground, type WhiteBackgroundConfig } from '../modules/white_background.ts';
import { GlimpsePair } from '../modules/glimpse_pair.ts';
import { Places } from '../modules/places.ts';
import { RelationalModule } from '../modules/relational.ts';
import { WordGuide } from '../modules/word_guide.ts';
import { GlimpseMlp } from '../nn/glimpse_mlp.ts';
import { inference } from '../nn/eager_ops.ts';
import { attend } from '../nn/functions.ts';
import { Dense } from '../nn/layers.ts';
import type { Ops } from '../nn/ops.ts';
import { ParamStore } from '../nn/params.ts';
import { CnnEncoder } from '../vision/cnn.ts';
import { FrozenRegionEncoder } from '../vision/frozen_regions.ts';
import type { RegionEncoder } from '../vision/region_encoder.ts';
import { Familiarity } from './familiarity.ts';
import { ImageAttention } from './image_attention.ts';

/** What the network reads, as tfjs tensors or as graph inputs. */
export interface NetInputs<T> {
  /** distinct images of the batch: normalised pixels [I, H, W, 3] (cnn) or region features [I, N, C] (pretrained) */
  images: T;
  /** for each question, the row of `images` it asks about: [B] int32 */
  imageIndex: T;
  /** token ids [B, T] int32 (transformer) or token states [B, T, C] (pretrained), and the mask [B, T] float (1 = real token) */
  tokens: T;
  mask: T;
}

export interface NetOutputs<T> {
  logits: T;
  /**
   * The words that chose where the image glimpses look [B, G, T]: the word guide's glimpses (per
   * glimpse, guide glimpse g steers image glimpse g alone); without a guide, the question
   * attention's glimpses, which make the question vector that steers every image glimpse.
   */
  questionAttention: T;
  /** image attention over grid cells: hop 1's glimpses, then the relational module's [B, maps·G, N] (config imageAttentionMaps) */
  imageAttention: T;
  /** how far each question's image lies from the training scenes [B]: above 1 is out of distribution (model/familiarity.ts) */
  imageDistance: T;
}

/** A pretrained model's feature width, which training reads from the model before building the network. */
function probed(width: number | undefined, part: string, model: string): number {
  if (width === undefined) throw new Error(`model.${part}.width is not set: the pretrained model '${model}' has not been probed`);
  return width;
}

/**
 * The MFB co-attention network: question self-attention, question-guided image attention scored
 * through MFB, the final fusion of the attended image and the question, a linear classifier; and
 * the add-on modules the config lists (src/modules/). `forward` is the one definition of its
 * function: eager ops train and answer with it, the ONNX recorder exports it.
 */
export class VqaNet {
  readonly store: ParamStore;
  private readonly vision: RegionEncoder;
  private readonly language: TokenEncoder;
  private readonly questionGlimpses: GlimpseMlp;
  private readonly imageAttention: ImageAttention;
  private readonly fusion: Fusion;
  private readonly classifier: Dense;
  private readonly wordGuide?: WordGuide;
  private readonly relational?: RelationalModule;
  private readonly places?: Places;
  private readonly pair?: GlimpsePair;
  /** the question vector pools the token embeddings (module embedding-question) */
  private readonly questionFromEmbeddings: boolean;
  /** the background-channels module: the CNN also reads the image relative to its border colour */
  private readonly backgroundChannels: boolean;
  /** the white-background module: the CNN reads the scene with its background painted white */
  private readonly whitening?: WhiteBackgroundConfig;
  /** the relational module's context holds the word guide */
  private readonly guideInContext: boolean;
  /** the modules that wait for the curriculum to end */
  private readonly staged: Set<ModuleConfig['kind']>;
  /**
   * 1 once the staged modules answer, 0 while they wait for the curriculum to end: a parameter that
   * is not trained, saved with the weights, so that a model answers as it was trained.
   */
  readonly stagesOn?: tf.Variable;
  readonly familiarity: Familiarity;

  constructor(
    readonly cfg: ModelConfig,
    vocabSize: number,
    readonly numAnswers: number,
    seed: number,
    /** the word-vector rows for its vocabulary (config language.wordVectors), from the shipped table */
    wordVectors?: Float32Array,
    /** how many of the vocabulary's first ids training reaches ([PAD], [UNK], the trained words) */
    trainedIds = vocabSize,
  ) {
    this.store = new ParamStore(seed);
    const { d, attention: att, dropout } = cfg;
    const vDim = att.glimpses * d; // one attended image, or the question vector
    const grid = regionGrid(cfg);
    const lang = cfg.language;
    this.backgroundChannels = Boolean(moduleOf(cfg, 'background-channels'));
    this.whitening = moduleOf(cfg, 'white-background');
    this.vision =
      cfg.vision.kind === 'cnn'
        ? new CnnEncoder(this.store, cfg.vision, d, grid, this.backgroundChannels ? 6 : 3)
        : new FrozenRegionEncoder(this.store, probed(cfg.vision.width, 'vision', cfg.vision.model), d);
    this.language =
      lang.kind === 'transformer'
        ? new TransformerEncoder(this.store, d, lang, dropout, vocabSize, wordVectors, trainedIds)
        : new FrozenTokenEncoder(this.store, probed(lang.width, 'language', lang.model), d);
    this.questionGlimpses = new GlimpseMlp(this.store, 'qatt', d, att.hidden, att.glimpses, dropout);
    this.questionFromEmbeddings = Boolean(moduleOf(cfg, 'embedding-question'));
    const guide = moduleOf(cfg, 'word-guide');
    if (guide) this.wordGuide = new WordGuide(this.store, guide, d, att.hidden, att.glimpses, dropout, lang.maxTokens);
    this.imageAttention = new ImageAttention(this.store, { ...att, d, dropout }, vDim, Boolean(guide?.perGlimpse));
    const relational = moduleOf(cfg, 'relational');
    this.guideInContext = Boolean(relational?.guideInContext);
    const contextDim = (this.guideInContext ? 3 : 2) * vDim;
    if (relational) this.relational = new RelationalModule(this.store, relational, { d, contextDim, questionDim: vDim, glimpses: att.glimpses, grid });
    const places = moduleOf(cfg, 'places');
    if (places) this.places = new Places(places, grid);
    const pair = moduleOf(cfg, 'glimpse-pair');
    if (pair) this.pair = new GlimpsePair(this.store, pair, d);
    const maps = this.relational ? 2 : 1;
    const imageDim = vDim + (this.relational?.outDim ?? 0) + (this.places ? 2 * maps * att.glimpses : 0) + (this.pair?.outDim ?? 0);
    this.fusion = createFusion(cfg.fusion.kind, this.store, 'fusion', imageDim, vDim, { k: cfg.fusion.k, o: cfg.fusion.o, dropout });
    this.classifier = new Dense(this.store, 'classifier', this.fusion.outDim, numAnswers);
    this.staged = new Set(cfg.modules.filter((m) => 'staged' in m && m.staged).map((m) => m.kind));
    if (this.staged.size > 0) this.stagesOn = this.store.add('stages.on', [], 'ones', false);
    this.familiarity = new Familiarity(this.store, d, this.vision.mapChannels);
  }

  forward<T>(o: Ops<T>, x: NetInputs<T>): NetOutputs<T> {
    const { vectors: embeddings, states: words } = this.language.encode(o, x.tokens, x.mask); // [B, T, d] each
    const question = this.questionGlimpses.poolWords(o, words, this.questionFromEmbeddings ? embeddings : words, x.mask);
    const q = question.vector; // [B, G·d]

    const { regions: encoded, maps: featureMaps } = this.vision.encode(o, this.visionInput(o, x.images)); // [I, N, d]
    const perImage = this.cfg.blind ? o.mul(encoded, 0) : encoded;
    const regions = o.gatherRows(perImage, x.imageIndex); // [B, N, d]
    const wordGuide = this.wordGuide?.forward(o, { words, embeddings, mask: x.mask });
    const guide = wordGuide ? wordGuide.vector : q;
    const looked = this.imageAttention.forward(o, { perImage, imageIndex: x.imageIndex, guide }); // [B, G, N]
    const object = attend(o, regions, looked); // [B, G·d]

    // a staged module's features are multiplied by stages.on: zero, they get no gradient either
    const gated = (kind: ModuleConfig['kind'], y: T) => (this.stagesOn && this.staged.has(kind) ? o.mul(y, o.param(this.stagesOn)) : y);
    const image = [object];
    const maps = [looked];
    if (this.places) image.push(gated('places', this.places.forward(o, looked)));
    if (this.relational) {
      const rel = this.relational.forward(o, { regions, context: o.concat(this.guideInContext ? [object, q, guide] : [object, q], 1), anchor: looked, question: q });
      image.push(gated('relational', rel.features));
      if (this.places) image.push(gated('places', this.places.forward(o, rel.weights)));
      maps.push(rel.weights);
    }
    if (this.pair) image.push(gated('glimpse-pair', this.pair.forward(o, object)));

    const logits = this.familiarity.calibrated(o, this.classifier.forward(o, this.fusion.forward(o, o.concat(image, 1), q)));
    const imageDistance = o.reshape(o.gatherRows(o.reshape(this.familiarity.distance(o, encoded, featureMaps), [-1, 1]), x.imageIndex), [-1]);
    return { logits, questionAttention: wordGuide ? wordGuide.weights : question.weights, imageAttention: o.concat(maps, 1), imageDistance };
  }

  /** Each image's features for the familiarity checks [I, F], the descriptor's 2d first (model/familiarity.ts). */
  imageFeatures<T>(o: Ops<T>, images: T): T {
    const { regions, maps } = this.vision.encode(o, this.visionInput(o, images));
    return this.familiarity.features(o, regions, maps);
  }

  /** What the image encoder reads: the batch's images as the modules that act on pixels leave them. */
  private visionInput<T>(o: Ops<T>, images: T): T {
    const size = this.cfg.imageSize;
    const whitened = this.whitening ? whiteBackground(o, images, size, this.whitening) : images;
    return this.backgroundChannels ? withBackgroundChannels(o, whitened, size) : whitened;
  }

  /** Whether the staged modules answer (set by training at each epoch; saved with the weights). */
  setStagesOn(on: boolean): void {
    const value = on ? 1 : 0;
    if (!this.stagesOn || this.stagesOn.dataSync()[0] === value) return;
    tf.tidy(() => this.stagesOn!.assign(tf.scalar(value)));
  }

  /** Whether the staged modules answer now (true when there are none). */
  stagesAnswer(): boolean {
    return !this.stagesOn || this.stagesOn.dataSync()[0] === 1;
  }

  /** Re-estimates the CNN's batch-norm statistics from batches of images (pretrained features have none). */
  recalibrateBatchNorm(imageBatches: Iterable<tf.Tensor4D>): void {
    this.vision.recalibrate?.(this.visionInputs(imageBatches));
  }

  /** Each batch of images as the image encoder reads it, disposed once the next is asked for. */
  private *visionInputs(imageBatches: Iterable<tf.Tensor4D>): Generator<tf.Tensor4D> {
    for (const images of imageBatches) {
      const input = tf.tidy(() => this.visionInput(inference, images) as tf.Tensor4D);
      try {
        yield input;
      } finally {
        if (input !== images) input.dispose();
      }
    }
  }

  dispose(): void {
    this.store.dispose();
  }
}
