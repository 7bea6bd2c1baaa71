import { z } from 'zod';
import { FUSION_KINDS } from '../fusion/kinds.ts';
import { MODULE_SCHEMAS, type ModuleConfig } from '../modules/schemas.ts';
import { fromLegacyForm } from './config_legacy.ts';

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
    /**
     * the convolutions' initial weights: 'he' (the default), normal with std √(2/fan_in); or 'fan-in-uniform',
     * uniform in ±1/√fan_in (√6 times smaller). Batch norm makes the output blind to the scale, but
     * not Adam's steps: smaller weights turn by more per step (docs/experiments.md §17).
     */
    init: z.enum(['he', 'fan-in-uniform']).optional(),
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
    /** a tfjs model folder only: the layer (layers model) or node (graph model) whose [B, h, w, C] output gives the regions; default: the last 4-D layer */
    layer: z.string().min(1).optional(),
    /** a tfjs model folder only: the pixel values it was trained on, black to white (Keras MobileNets: [-1, 1]) */
    inputRange: z.tuple([z.number(), z.number()]).default([0, 1]),
    /** precision of the packed feature store */
    storeDtype: z.enum(['float32', 'float16']).default('float16'),
    /** feature width C and region grid [h, w]: read from the model when training starts */
    width: z.number().int().min(1).optional(),
    grid: z.tuple([z.number().int().min(1), z.number().int().min(1)]).optional(),
  })
  .strict();

/** Pre-norm transformer layers over learned token and position embeddings; the feed-forward width is 2·d. */
const TransformerLanguageSchema = z
  .object({
    kind: z.literal('transformer'),
    maxTokens: z.number().int().min(2).max(128).default(16),
    layers: z.number().int().min(1).max(12).default(2),
    heads: z.number().int().min(1).max(16).default(4),
    /**
     * Standard deviation of the initial token embeddings. 0.02 (GPT's) suits the layers, which
     * normalise their input; an image attention guided by the embeddings themselves (the
     * word-guide module) starts near uniform with it, and learns to find the named object much
     * later than with 1 (docs/experiments.md).
     */
    embeddingStd: z.number().positive().default(0.02),
    /**
     * Read words through a frozen word-vector table the package ships (src/language/word_vectors.ts)
     * and a trained projection to d, instead of trained token embeddings: words training never saw
     * land near trained words of the same meaning. The vocabulary is the table's words.
     */
    wordVectors: z.enum(['glove-6b-100d']).optional(),
    /**
     * With wordVectors: a trained offset per word (zero at the start) added to its projected row,
     * dropped for this fraction of tokens in training, so that the encoder also reads words through
     * the table alone, as it must read a word training never saw (whose offset stays zero).
     */
    wordOffsetDropout: z.number().min(0).max(0.9).optional(),
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

/**
 * The MFB co-attention network (docs/architecture.md): encoders to width d, question
 * self-attention, question-guided image attention scored through MFB, the final fusion, a linear
 * classifier; the add-on modules of the bundled recipes listed in `modules`. Validated wherever a
 * config enters; the form before modules existed is read through config/legacy.ts.
 */
const ModelConfigSchema = z
  .object({
    imageSize: z.number().int().min(16).max(512).default(64),
    d: z.number().int().min(8).max(2048).default(256),
    vision: withKind('cnn', z.discriminatedUnion('kind', [CnnVisionSchema, PretrainedVisionSchema])).prefault({ kind: 'cnn' }),
    language: withKind('transformer', z.discriminatedUnion('kind', [TransformerLanguageSchema, PretrainedLanguageSchema])).prefault({ kind: 'transformer' }),
    attention: z
      .object({
        /** hidden width of the MLPs that score the words and the regions */
        hidden: z.number().int().min(1).default(256),
        /** glimpses of the question self-attention and of the image attention */
        glimpses: z.number().int().min(1).max(8).default(2),
        /** MFB of each region with the question: factors k, output width o */
        k: z.number().int().min(1).max(32).default(5),
        o: z.number().int().min(1).default(256),
        /**
         * After MFB's sum pool per region: the signed square root and an L2 norm per region, or
         * jointly over all regions of a sample (openvqa, Caffe), or 'none' (neither; the bundled
         * recipes). Joint leaves each region's vector ~1/√N long, which slows the MLP after it.
         */
        norm: z.enum(['per-region', 'joint', 'none']).default('per-region'),
      })
      .strict()
      .prefault({}),
    fusion: z
      .object({
        kind: z.enum(FUSION_KINDS).default('mfb'),
        /** MFB's factor count, lowrank's rank */
        k: z.number().int().min(1).max(32).default(5),
        o: z.number().int().min(1).default(1000),
      })
      .strict()
      .prefault({}),
    dropout: z.number().min(0).max(0.9).default(0.1),
    /** question-only ablation: the image branch is replaced by zeros, so answers come from the question alone */
    blind: z.boolean().default(false),
    /** add-on modules (src/modules/), each at most once */
    modules: z.array(z.discriminatedUnion('kind', MODULE_SCHEMAS)).default([]),
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
    /**
     * Multipliers of the rate by parameter-name prefix (e.g. {"vision.": 0.33}: the image encoder
     * at a third of the rate the rest of the net learns at); the longest matching prefix counts.
     * They apply once the curriculum is over: the curriculum trains every parameter at one rate.
     * See docs/experiments.md §19.
     */
    rateScale: z.record(z.string().min(1), z.number().positive()).default({}),
    clipNorm: z.number().positive().default(10),
    seed: z.number().int().default(1),
    answers: z.number().int().min(2).default(3000),
    /** data-parallel worker threads (each computes part of every batch); 1 trains on the calling thread */
    workers: z.number().int().min(1).max(64).default(1),
    /**
     * Curriculum: the first `epochs` epochs train only on questions whose question_type is listed
     * (the answer vocabulary still comes from every question), with the staged modules off, at
     * `lr` when given (then the schedule of `train.lr` from the first epoch after it).
     * See docs/experiments.md.
     */
    curriculum: z
      .object({ epochs: z.number().int().min(1), questionTypes: z.array(z.string().min(1)).min(1), lr: z.number().positive().optional() })
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
    /**
     * Share of training images degraded afresh each time a batch reads them: a new draw of the
     * generators' mix (JPEG 40–95, stored at 0.5–2× and resized back, blur, pixel noise), so that
     * every epoch sees new pixels (docs/experiments.md §22.6). 0 reads the stored images as they are.
     */
    degrade: z.number().min(0).max(1).default(0),
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
export type { ModuleConfig } from '../modules/schemas.ts';

/**
 * A config field that the schema accepted but the built model cannot use (such as a
 * train.rateScale prefix that names no parameter); the command that read the config adds its file.
 */
export class ConfigFieldError extends Error {}

/** Parses a config (or its form before modules), turning zod's issues into one message that names the source and each field. */
export function parseRunConfig(raw: unknown, source: string): RunConfig {
  const result = RunConfigSchema.safeParse(fromLegacyForm(raw, source));
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source}: invalid config\n  ${problems.join('\n  ')}`);
  }
  const cfg = result.data;
  const { vision, language, modules } = cfg.model;
  if (vision.kind === 'cnn' && vision.channels.length !== vision.strides.length) {
    throw new Error(`${source}: model.vision.channels and model.vision.strides must have the same length`);
  }
  if (language.kind === 'transformer' && language.wordOffsetDropout !== undefined && !language.wordVectors) {
    throw new Error(`${source}: model.language.wordOffsetDropout needs model.language.wordVectors (the offsets are added to the table's rows)`);
  }
  if (language.kind === 'transformer' && cfg.model.d % language.heads !== 0) {
    throw new Error(`${source}: model.d (${cfg.model.d}) must be divisible by model.language.heads (${language.heads})`);
  }
  const kinds = modules.map((m) => m.kind);
  const twice = kinds.find((k, i) => kinds.indexOf(k) !== i);
  if (twice) throw new Error(`${source}: model.modules lists '${twice}' twice`);
  const guide = moduleOf(cfg.model, 'word-guide');
  if (moduleOf(cfg.model, 'glimpse-pair') && cfg.model.attention.glimpses < 2) {
    throw new Error(`${source}: the glimpse-pair module multiplies hop 1's first two glimpses; model.attention.glimpses is ${cfg.model.attention.glimpses}`);
  }
  for (const pixelModule of ['background-channels', 'white-background'] as const) {
    if (moduleOf(cfg.model, pixelModule) && vision.kind !== 'cnn') {
      throw new Error(`${source}: the ${pixelModule} module changes the pixels the CNN reads; model.vision is '${vision.kind}'`);
    }
  }
  if (cfg.train.degrade > 0 && vision.kind !== 'cnn') {
    throw new Error(`${source}: train.degrade changes the pixels the CNN reads; model.vision is '${vision.kind}' (its features are computed once)`);
  }
  if (guide?.sharedScore && guide.slope === 0) {
    throw new Error(`${source}: model.modules word-guide.sharedScore needs a slope > 0 (with one shared score and no slope every glimpse reads the same words)`);
  }
  if (moduleOf(cfg.model, 'relational')?.guideInContext && !guide) {
    throw new Error(`${source}: model.modules relational.guideInContext needs the word-guide module (the guide it adds to the context)`);
  }
  return cfg;
}

/** The module of the given kind in the config, if listed. */
export function moduleOf<K extends ModuleConfig['kind']>(cfg: ModelConfig, kind: K): Extract<ModuleConfig, { kind: K }> | undefined {
  return cfg.modules.find((m): m is Extract<ModuleConfig, { kind: K }> => m.kind === kind);
}

/** Whether any listed module waits for the curriculum to end (staged). */
export function hasStagedModules(cfg: ModelConfig): boolean {
  return cfg.modules.some((m) => 'staged' in m && m.staged);
}

/** Whether the staged modules are on in training epoch `epoch` (0-based): once the curriculum's epochs are over. */
export function stagesOn(cfg: RunConfig, epoch: number): boolean {
  return epoch >= (cfg.train.curriculum?.epochs ?? 0);
}

/** The image attention maps a model outputs: hop 1's glimpses, then the relational module's. */
export function imageAttentionMaps(cfg: ModelConfig): number {
  return (moduleOf(cfg, 'relational') ? 2 : 1) * cfg.attention.glimpses;
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
  const modules = cfg.modules.length ? `; modules ${cfg.modules.map((m) => m.kind).join(', ')}` : '';
  return `vision ${vision}; language ${language}; d ${cfg.d}${modules}`;
}
