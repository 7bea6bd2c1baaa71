import { z } from 'zod';
import { FUSION_KINDS } from '../fusion/kinds.ts';

/** A config object without `kind` gets the given one (the from-scratch encoder). */
function withKind<T extends z.ZodType>(kind: string, schema: T) {
  return z.preprocess((v) => (v && typeof v === 'object' && !('kind' in v) ? { ...v, kind } : v), schema);
}

const CnnVisionSchema = z
  .object({
    kind: z.literal('cnn'),
    channels: z.array(z.number().int().min(1)).min(1).default([32, 64, 128, 128]),
    strides: z
      .array(z.union([z.literal(1), z.literal(2)]))
      .min(1)
      .default([2, 2, 2, 1]),
    /** a learned vector per grid cell added to its region (beside the coordinate channels), so that attention can compare cells by place */
    positionEmbedding: z.boolean().default(false),
  })
  .strict();

/** A pretrained image model from a local @xenova/transformers folder, not trained here; its region features are cached on disk. */
const PretrainedVisionSchema = z
  .object({
    kind: z.literal('pretrained'),
    /** model id under the pretrained-models folder, e.g. "Xenova/resnet-50" */
    model: z.string().min(1),
    /** load onnx/model_quantized.onnx instead of onnx/model.onnx */
    quantized: z.boolean().default(false),
    /** precision of the packed feature store */
    storeDtype: z.enum(['float32', 'float16']).default('float16'),
    /** feature width C and region grid [h, w]: read from the model when training starts */
    width: z.number().int().min(1).optional(),
    grid: z.tuple([z.number().int().min(1), z.number().int().min(1)]).optional(),
  })
  .strict();

const TransformerLanguageSchema = z
  .object({
    kind: z.literal('transformer'),
    maxTokens: z.number().int().min(2).max(128).default(16),
    layers: z.number().int().min(1).max(12).default(2),
    heads: z.number().int().min(1).max(16).default(4),
    ffnMultiplier: z.number().int().min(1).max(8).default(2),
    /**
     * Standard deviation of the initial token embeddings. 0.02 (GPT's) suits the layers, which
     * normalise their input; an image attention guided by the embeddings themselves
     * (imageAttention.query 'word-embeddings') starts near uniform with it, and learns to find
     * the named object much later than with 1 (docs/experiments.md).
     */
    embeddingStd: z.number().positive().default(0.02),
    /**
     * Standard deviation of the initial position embeddings. At 0.02 beside embeddings of std 1
     * the word states barely know where a word stands; 1 was tried so that the first object of
     * "Is the red circle left of the blue circle?" could be told from the second, and did not make
     * spatial relations learn in the proxy (docs/experiments.md §9).
     */
    positionStd: z.number().positive().default(0.02),
  })
  .strict();

/** A pretrained text model (BERT family) from a local folder, not trained here: its token states, projected to d. */
const PretrainedLanguageSchema = z
  .object({
    kind: z.literal('pretrained'),
    model: z.string().min(1),
    quantized: z.boolean().default(false),
    /** tokens kept per question, special tokens included */
    maxTokens: z.number().int().min(2).max(512).default(20),
    /** width of the token states: read from the model when training starts */
    width: z.number().int().min(1).optional(),
  })
  .strict();

/** A fusion of two vectors: its kind, its factors (MFB's k, lowrank's rank) and its output width. */
function fusionSchema(defaultO: number, perRegion: boolean) {
  const kind = z.enum(FUSION_KINDS);
  return z
    .object({
      kind: (perRegion ? kind.refine((k) => k !== 'bilinear', 'the full bilinear product is too large per region; use lowrank') : kind).default('mfb'),
      k: z.number().int().min(1).max(32).default(5),
      o: z.number().int().min(1).default(defaultO),
    })
    .strict()
    .prefault({});
}

/** The image attention's old form, `{fusion: 'mfb', k, o, …}`, in the shape of `model.fusion`. */
function attentionFusionOldForm(v: unknown): unknown {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
  const { k, o, fusion, ...rest } = v as Record<string, unknown>;
  if (k === undefined && o === undefined && (fusion === undefined || typeof fusion === 'object')) return v;
  const given = typeof fusion === 'string' ? { kind: fusion } : ((fusion ?? {}) as object);
  return { ...rest, fusion: { ...given, ...(k !== undefined ? { k } : {}), ...(o !== undefined ? { o } : {}) } };
}

/** Every number of the model with its default (docs/architecture.md). Validated wherever a config enters. */
const ModelConfigSchema = z
  .object({
    imageSize: z.number().int().min(16).max(512).default(64),
    d: z.number().int().min(8).max(2048).default(256),
    vision: withKind('cnn', z.discriminatedUnion('kind', [CnnVisionSchema, PretrainedVisionSchema])).prefault({ kind: 'cnn' }),
    language: withKind('transformer', z.discriminatedUnion('kind', [TransformerLanguageSchema, PretrainedLanguageSchema])).prefault({ kind: 'transformer' }),
    questionAttention: z
      .object({
        hidden: z.number().int().min(1).default(256),
        glimpses: z.number().int().min(1).max(8).default(2),
        /**
         * What the question vector pools: the transformer's word states (the design), or the token
         * embeddings with the glimpse weights still computed from the word states. After a first
         * phase on one kind of question the states of words that phase never needed ("left",
         * "above") are a few percent of the residual stream, so the question vector barely tells
         * "left of" from "right of"; the embeddings keep every word distinct (docs/experiments.md §10).
         */
        values: z.enum(['word-states', 'word-embeddings']).default('word-states'),
      })
      .strict()
      .prefault({}),
    imageAttention: z.preprocess(
      attentionFusionOldForm,
      z
        .object({
          /**
           * The fusion that scores each region against the question, in the shape of `model.fusion`
           * (the old form, `fusion: 'mfb'` with `k` and `o` beside it, is read too). MFB (the
           * design) projects each image's regions once; the others fuse every (question, region)
           * pair. The full bilinear product is too large per region and is refused here.
           */
          fusion: fusionSchema(256, true),
          hidden: z.number().int().min(1).default(256),
          glimpses: z.number().int().min(1).max(8).default(2),
          /**
           * L2 norm of the per-region MFB output: 'joint' over all regions of a sample (openvqa, Caffe)
           * or 'per-region', or 'none' (signed square root only). Joint leaves each region's vector ~1/√N long, which slows how fast the
           * attention MLP after it learns; see README.
           */
          norm: z.enum(['joint', 'per-region', 'none']).default('per-region'),
          /** the signed square root of the per-region MFB output; off leaves the scores bilinear in region and question */
          signedSqrt: z.boolean().default(true),
          /**
           * Multiplies the attention logits. At 1 with normalised region scores the attention starts
           * uniform over all regions, where the pooled image barely varies and the gradient that would
           * teach the attention is near zero; a larger scale starts it peaked (see docs/experiments.md).
           */
          logitScale: z.number().positive().default(1),
          /** attention hops: hop h > 1 is guided by the question and the image vector of hop h − 1 */
          hops: z.number().int().min(1).max(4).default(1),
          /**
           * What guides the attention: the question vector of the question self-attention (the
           * design), or the attention's own glimpses over the token embeddings, before the
           * transformer mixes the words ('word-embeddings'; for a pretrained language model, its
           * projected token states). On templated questions the question vector is dominated by the
           * template words, so an attention learned for one template does not fire for another; a
           * glimpse over the embeddings can pick out the word that names the object whatever the
           * template around it (see docs/experiments.md). 'word-embeddings-by-context' pools the
           * same embeddings with glimpse weights computed from the transformer's word states, which
           * know each word's place and so which object of the question it describes; a weight from
           * the embedding alone gives every occurrence of a word the same score (docs/experiments.md §9).
           */
          query: z.enum(['question', 'word-embeddings', 'word-embeddings-by-context']).default('question'),
          /**
           * s > 0: the fusion also gets where each attention map looked (each hop's glimpses and the
           * relational module's: the weighted centre of its regions, (x, y) in [-1, 1], times s);
           * 0 leaves it out (before). Inside the pooled image vector a place is a few of d features
           * mixed with the object's looks, too weak for the fusion to tell whether one object is
           * left of another; at s = 1 they are still drowned by the fusion's other inputs, at 30
           * they are heard (docs/experiments.md §11). Zero while a staged relational module waits.
           */
          positions: z.number().min(0).max(100).default(0),
          /**
           * Hop 1's glimpse g scores the regions against the guide's glimpse g alone (one region
           * fusion and scorer shared by the glimpses), not against all of them together, so that
           * each glimpse can find the object its own phrase names (docs/experiments.md §11).
           * Needs a guide over the words (query other than 'question').
           */
          guidePerGlimpse: z.boolean().default(false),
          /**
           * K > 0: the guide's word logits get a learned slope per glimpse over the words' relative
           * places, starting from −K (glimpse 1 reads the first words) to +K (the last glimpse the
           * last words), so that in "Is the A left of the B?" the glimpses start on different
           * phrases (model/guide_slope.ts). 0: none (before). Needs a guide over the words.
           */
          guideSlope: z.number().min(0).max(50).default(0),
          /**
           * The fusion also gets MFB(glimpse 1's object, glimpse 2's object) of hop 1, L2-normalised
           * and times `scale`: a product of two objects, which "the same colour as" needs
           * (model/glimpse_pair.ts). Absent: none (before). Needs 2 or more glimpses; staged with the
           * relational module.
           */
          pair: z
            .object({ k: z.number().int().min(1).default(5), o: z.number().int().min(1).default(64), scale: z.number().positive().max(100).default(30) })
            .strict()
            .optional(),
        })
        .strict()
        .prefault({}),
    ),
    /**
     * The relational module (model/relational.ts; docs/experiments.md §7), which relates every
     * region to the object hop 1 attended and the question; absent, the image vector is the hops'
     * alone (the design).
     */
    relational: z
      .object({
        /** width of g's hidden layer and of g_n itself */
        hidden: z.number().int().min(1).default(128),
        width: z.number().int().min(1).default(64),
        /**
         * Its features are zero while train.curriculum's epochs run. On from the start, the summed
         * g_n are a shortcut to the image's overall mix that lowers the loss before the attention
         * has found the named object, and it may never find it (docs/experiments.md §7).
         */
        staged: z.boolean().default(true),
        /** each region also gets a projection of its squared distance to where hop 1 looked */
        distance: z.boolean().default(false),
        /** the module's attention logits get s(q)·(squared distance to where hop 1 looked), s a linear map of the question */
        distanceScore: z.boolean().default(false),
        /**
         * Its context also holds the image attention's guide (the description words, imageAttention.query
         * other than 'question'), not only hop 1's object and the question vector: each region's g_n
         * can then say whether it matches the description, which counting sums (docs/experiments.md §9).
         */
        guideInContext: z.boolean().default(false),
        /**
         * 'layer' standardises Σ_n g_n / √N over its width (no learned scale). Its context term can
         * make every g_n alike and hundreds long, so that the sum swamps the fusion's other inputs
         * and the fused vector hardly varies between questions (docs/experiments.md §10).
         */
        sumNorm: z.enum(['none', 'layer']).default('none'),
      })
      .strict()
      .optional(),
    fusion: fusionSchema(1000, false),
    dropout: z.number().min(0).max(0.9).default(0.1),
    /** question-only ablation: the image branch is replaced by zeros, so answers come from the question alone */
    blind: z.boolean().default(false),
  })
  .strict();

const TrainConfigSchema = z
  .object({
    epochs: z.number().int().min(1).default(13),
    batchSize: z.number().int().min(1).max(4096).default(64),
    /** most questions about one image in a batch: fewer means more distinct images per batch */
    questionsPerImage: z.number().int().min(1).default(8),
    lr: z.number().positive().default(7e-4),
    betas: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).default([0.9, 0.99]),
    adamEps: z.number().positive().default(1e-9),
    warmupEpochs: z.number().int().min(0).default(3),
    decayEpochs: z.array(z.number().int().min(0)).default([6, 12]),
    decayFactor: z.number().positive().max(1).default(0.5),
    clipNorm: z.number().positive().default(10),
    seed: z.number().int().default(1),
    answers: z.number().int().min(2).default(3000),
    /** data-parallel worker threads (each computes part of every batch); 1 trains on the calling thread */
    workers: z.number().int().min(1).max(64).default(1),
    /**
     * Curriculum: the first `epochs` epochs train only on questions whose question_type is listed
     * (the answer vocabulary still comes from every question). See docs/experiments.md.
     */
    curriculum: z
      .object({ epochs: z.number().int().min(1), questionTypes: z.array(z.string().min(1)).min(1) })
      .strict()
      .optional(),
    /**
     * After every epoch, the CNN's batch-norm running statistics are re-estimated as the mean of
     * the batch statistics over this many training batches with the final weights (0 keeps the
     * running averages of training, which trail the weights; see docs/experiments.md).
     */
    batchNormRecalibration: z.number().int().min(0).default(64),
    /** stop an epoch after this many steps (0 = whole epoch); for smoke tests and benchmarks */
    maxStepsPerEpoch: z.number().int().min(0).default(0),
  })
  .strict();

const RunConfigSchema = z
  .object({
    model: ModelConfigSchema.prefault({}),
    train: TrainConfigSchema.prefault({}),
  })
  .strict();

export type ModelConfig = z.infer<typeof ModelConfigSchema>;
export type PretrainedVision = z.infer<typeof PretrainedVisionSchema>;
export type PretrainedLanguage = z.infer<typeof PretrainedLanguageSchema>;
export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type RunConfig = z.infer<typeof RunConfigSchema>;

/** Parses a config, turning zod's issues into one message that names the source and each field. */
export function parseRunConfig(raw: unknown, source: string): RunConfig {
  const result = RunConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source}: invalid config\n  ${problems.join('\n  ')}`);
  }
  const cfg = result.data;
  const { vision, language } = cfg.model;
  if (vision.kind === 'cnn' && vision.channels.length !== vision.strides.length) {
    throw new Error(`${source}: model.vision.channels and model.vision.strides must have the same length`);
  }
  if (language.kind === 'transformer' && cfg.model.d % language.heads !== 0) {
    throw new Error(`${source}: model.d (${cfg.model.d}) must be divisible by model.language.heads (${language.heads})`);
  }
  const ia = cfg.model.imageAttention;
  if ((ia.guidePerGlimpse || ia.guideSlope > 0) && ia.query === 'question') {
    throw new Error(
      `${source}: model.imageAttention.guidePerGlimpse and guideSlope need an image attention guided by the words (imageAttention.query 'word-embeddings' or 'word-embeddings-by-context'); the question vector has no word logits to slope or glimpses of its own`,
    );
  }
  if (ia.pair && ia.glimpses < 2) {
    throw new Error(`${source}: model.imageAttention.pair multiplies hop 1's first two glimpses; imageAttention.glimpses is ${ia.glimpses}`);
  }
  if (ia.guidePerGlimpse && ia.glimpses !== cfg.model.questionAttention.glimpses) {
    throw new Error(
      `${source}: model.imageAttention.guidePerGlimpse pairs each image glimpse with one glimpse of the guide, which has questionAttention.glimpses (${cfg.model.questionAttention.glimpses}); imageAttention.glimpses is ${ia.glimpses}`,
    );
  }
  if (cfg.model.relational?.guideInContext && cfg.model.imageAttention.query === 'question') {
    throw new Error(
      `${source}: model.relational.guideInContext needs an image attention guided by the words (imageAttention.query 'word-embeddings' or 'word-embeddings-by-context'); with 'question' the guide is the question vector the context already holds`,
    );
  }
  return cfg;
}

/** Whether the relational module's features are on in training epoch `epoch`, and in a model saved after it. */
export function relationalOn(cfg: RunConfig, epoch: number): boolean {
  const rel = cfg.model.relational;
  return !rel?.staged || epoch >= (cfg.train.curriculum?.epochs ?? 0);
}

/** The image attention maps a model outputs: each hop's glimpses, then the relational module's. */
export function imageAttentionMaps(cfg: ModelConfig): number {
  const ia = cfg.imageAttention;
  return (ia.hops + (cfg.relational ? 1 : 0)) * ia.glimpses;
}

/** Rows and columns of the image regions the attention runs over. */
export function regionGrid(cfg: ModelConfig): [number, number] {
  const v = cfg.vision;
  if (v.kind === 'pretrained') {
    if (!v.grid) throw new Error(`model.vision.grid is not set: the pretrained image model '${v.model}' has not been probed`);
    return v.grid;
  }
  const side = v.strides.reduce((s, stride) => Math.ceil(s / stride), cfg.imageSize);
  return [side, side];
}

/** What the network reads per image ([H, W, 3] pixels or [N, C] features) and per token (0: an id; C: a state). */
export function inputShapes(cfg: ModelConfig): { imageShape: number[]; textWidth: number } {
  const [h, w] = regionGrid(cfg);
  const imageShape = cfg.vision.kind === 'cnn' ? [cfg.imageSize, cfg.imageSize, 3] : [h * w, cfg.vision.width!];
  return { imageShape, textWidth: cfg.language.kind === 'transformer' ? 0 : cfg.language.width! };
}

/** One line naming the image and question encoders, for logs. */
export function describeEncoders(cfg: ModelConfig): string {
  const v = cfg.vision;
  const l = cfg.language;
  const vision = v.kind === 'cnn' ? `cnn ${v.channels.join('-')} at ${cfg.imageSize} px` : `pretrained '${v.model}' (${regionGrid(cfg).join('×')} regions of ${v.width}, frozen)`;
  const language = l.kind === 'transformer' ? `transformer ${l.layers}×${l.heads} heads` : `pretrained '${l.model}' (states of ${l.width}, frozen)`;
  return `vision ${vision}; language ${language}; d ${cfg.d}`;
}
