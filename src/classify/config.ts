import { z } from 'zod';

export const POOLING_HEADS = ['average', 'bilinear', 'lowrank', 'compact'] as const;

/** An image classifier: a conv trunk, a pooling head over its locations, a linear classifier. */
const ClassifierConfigSchema = z
  .object({
    model: z
      .object({
        imageSize: z.number().int().min(8).max(512).default(32),
        channels: z.array(z.number().int().min(1)).min(1).default([16, 32, 32]),
        strides: z
          .array(z.union([z.literal(1), z.literal(2)]))
          .min(1)
          .default([1, 2, 2]),
        /** a stride of 2 as the convolution's own, or a stride-1 convolution and a 2×2 max pool (the classic CNN) */
        pool: z.enum(['stride', 'max']).default('stride'),
        /** batch norm after each convolution; without it each convolution has a bias */
        batchNorm: z.boolean().default(true),
        head: z.enum(POOLING_HEADS).default('bilinear'),
        /** rank of each class's bilinear form, for 'lowrank' */
        rank: z.number().int().min(1).default(4),
        /** width of the random-projection features, for 'compact' */
        compactDim: z.number().int().min(2).default(512),
        /**
         * A frozen pretrained trunk in place of the conv trunk: a tfjs model folder (model.json, cut
         * at `layer`, default its last 4-D layer) or an ONNX image model, by id under the pretrained
         * folder or absolute path. Its feature map is extracted once per image into the feature
         * store; channels, strides, pool, batchNorm and imageSize are then not used.
         */
        backbone: z
          .object({
            model: z.string().min(1),
            layer: z.string().min(1).optional(),
            /** the pixel values the model was trained on, black to white */
            inputRange: z.tuple([z.number(), z.number()]).default([0, 1]),
          })
          .strict()
          .optional(),
        /** dropout on the trunk's feature map, before the head (training only) */
        dropout: z.number().min(0).max(0.9).default(0),
      })
      .strict()
      .prefault({}),
    train: z
      .object({
        epochs: z.number().int().min(1).default(10),
        batchSize: z.number().int().min(1).default(32),
        lr: z.number().positive().default(2e-3),
        /**
         * For the lowrank head: this times Σ_k tr(U_kᵀU_k · V_kᵀV_k) = Σ_k ‖U_k V_kᵀ‖²_F, the
         * squared size of each class's bilinear form, is added to the loss (Kong & Fowlkes' trace
         * regulariser). 0: none.
         */
        traceRegularizer: z.number().min(0).default(0),
        /** the learning rate per epoch: constant, or cosine from lr down to 0 over the epochs (Loshchilov & Hutter's schedule without restarts) */
        schedule: z.enum(['constant', 'cosine']).default('constant'),
        /** on-the-fly augmentation of the training images (src/classify/augment.ts); none by default */
        augment: z
          .object({
            shift: z.number().int().min(0).max(8).default(0),
            flip: z.boolean().default(false),
            erase: z.number().min(0).max(1).default(0),
          })
          .strict()
          .prefault({}),
        seed: z.number().int().default(1),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ClassifierConfig = z.infer<typeof ClassifierConfigSchema>;

/** The learning rate of epoch `epoch` (0-based) under the config's schedule. */
export function epochLearningRate(t: ClassifierConfig['train'], epoch: number): number {
  return t.schedule === 'cosine' ? 0.5 * t.lr * (1 + Math.cos((Math.PI * epoch) / t.epochs)) : t.lr;
}

export function parseClassifierConfig(raw: unknown, source: string): ClassifierConfig {
  const r = ClassifierConfigSchema.safeParse(raw);
  if (!r.success) throw new Error(`${source}: invalid classifier config\n  ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n  ')}`);
  if (r.data.model.channels.length !== r.data.model.strides.length) throw new Error(`${source}: model.channels and model.strides must have the same length`);
  if (r.data.train.traceRegularizer > 0 && r.data.model.head !== 'lowrank')
    throw new Error(`${source}: train.traceRegularizer regularises the lowrank head; model.head is '${r.data.model.head}'`);
  const a = r.data.train.augment;
  if (r.data.model.backbone && (a.shift > 0 || a.flip || a.erase > 0))
    throw new Error(`${source}: train.augment changes pixels, but model.backbone's features are extracted once per image; drop one of them`);
  return r.data;
}
