import { z } from 'zod';
import { attend } from '../nn/functions.ts';
import { Dense } from '../nn/layers.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import { regionCentres } from '../vision/region_centres.ts';

export const RelationalSchema = z
  .object({
    kind: z.literal('relational'),
    /** width of g's hidden layer and of g_n itself */
    hidden: z.number().int().min(1).default(128),
    width: z.number().int().min(1).default(64),
    /**
     * Its features are zero while train.curriculum's epochs run. On from the start, the summed g_n
     * are a shortcut to the image's overall mix that lowers the loss before the attention has
     * found the named object, and it may never find it (docs/experiments.md §7).
     */
    staged: z.boolean().default(true),
    /** the module's attention logits get s(q)·(squared distance to where hop 1 looked), s a linear map of the question */
    distanceScore: z.boolean().default(false),
    /**
     * Its context also holds the word guide (the word-guide module), not only hop 1's object and the
     * question vector: each region's g_n can then say whether it matches the description, which
     * counting sums (docs/experiments.md §9).
     */
    guideInContext: z.boolean().default(false),
    /**
     * 'layer' standardises Σ_n g_n / √N over its width (no learned scale). Its context term can
     * make every g_n alike and hundreds long, so that the sum swamps the fusion's other inputs and
     * the fused vector hardly varies between questions (docs/experiments.md §10).
     */
    sumNorm: z.enum(['none', 'layer']).default('none'),
  })
  .strict();

export type RelationalConfig = z.infer<typeof RelationalSchema>;

/** What the relational module reads. */
export interface RelationalInputs<T> {
  /** regions of each question's image [B, N, d] */
  regions: T;
  /** hop 1's object, the question vector and (guideInContext) the word guide, concatenated [B, contextDim] */
  context: T;
  /** hop 1's attention [B, G, N]: where it looked, for the distance scores */
  anchor: T;
  /** the question vector [B, questionDim], which scales the distance scores */
  question: T;
}

/**
 * The relational module (docs/experiments.md §7): every region n is related to the object hop 1
 * attended and to the question, g_n = MLP([r_n, o, q]) (N pairs, where Relation Networks forms
 * N²), and pooled two ways: Σ_n g_n / √N, a sum that can count (a softmax cannot), and a softmax
 * over regions scored from g_n, which pools the regions themselves and can pick one by its
 * relation to o. With a distance score, the attention's logits get s_g(q)·‖c_n − p_g‖², a
 * question-dependent push towards near (s < 0) or far (s > 0) regions from where glimpse g of hop
 * 1 looked; this is what lifted closest and furthest in the proxy (§7.2).
 */
export class RelationalModule {
  private readonly region: Dense;
  private readonly context: Dense;
  private readonly out: Dense;
  private readonly glimpses: Dense;
  private readonly distanceScore?: Dense;
  private readonly centres: Float32Array;
  private readonly regionCount: number;
  /** [Σ_n g_n / √N, the regions pooled by the module's attention]: width + G·d */
  readonly outDim: number;

  constructor(
    store: ParamStore,
    private readonly cfg: RelationalConfig,
    shape: { d: number; contextDim: number; questionDim: number; glimpses: number; grid: [number, number] },
  ) {
    this.region = new Dense(store, 'relational.region', shape.d, cfg.hidden);
    this.context = new Dense(store, 'relational.context', shape.contextDim, cfg.hidden);
    this.out = new Dense(store, 'relational.out', cfg.hidden, cfg.width);
    this.glimpses = new Dense(store, 'relational.glimpses', cfg.width, shape.glimpses);
    if (cfg.distanceScore) this.distanceScore = new Dense(store, 'relational.distanceScore', shape.questionDim, shape.glimpses);
    this.centres = regionCentres(...shape.grid);
    this.regionCount = shape.grid[0] * shape.grid[1];
    this.outDim = cfg.width + shape.glimpses * shape.d;
  }

  /** → its features [B, outDim] and its attention over regions [B, G, N] */
  forward<T>(o: Ops<T>, x: RelationalInputs<T>): { features: T; weights: T } {
    const hidden = o.relu(o.add(this.region.forward(o, x.regions), o.expandDims(this.context.forward(o, x.context), 1)));
    const g = o.relu(this.out.forward(o, hidden)); // [B, N, width]
    let logits = this.glimpses.forward(o, g); // [B, N, G]
    if (this.distanceScore) logits = o.add(logits, o.mul(o.expandDims(this.distanceScore.forward(o, x.question), 1), this.squaredDistances(o, x.anchor)));
    const weights = o.softmax(o.transpose(logits, [0, 2, 1])); // [B, G, N]
    const sum = o.div(o.sum(g, [1], false), Math.sqrt(this.regionCount));
    const summed = this.cfg.sumNorm === 'layer' ? o.standardize(sum, 1e-5) : sum;
    return { features: o.concat([summed, attend(o, x.regions, weights)], 1), weights };
  }

  /** ‖c_n − p_g‖² [B, N, G] with p_g = Σ_n anchor[b,g,n]·c_n where glimpse g looked. */
  private squaredDistances<T>(o: Ops<T>, anchor: T): T {
    const centres = o.constant(this.centres, [this.regionCount, 2]);
    const looked = o.matMul(anchor, centres); // [B, G, 2]
    return o.sum(o.square(o.sub(o.reshape(centres, [1, this.regionCount, 1, 2]), o.expandDims(looked, 1))), [3], false);
  }
}
