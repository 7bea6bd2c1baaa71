import { z } from 'zod';
import { Mfb } from '../fusion/mfb.ts';
import { l2Normalize } from '../nn/functions.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';

/**
 * The fusion also gets the objects hop 1's first two glimpses pooled, multiplied: s·z/‖z‖ with z the
 * MFB sum pool of (Wₐa + bₐ) ⊙ (W_b b + b_b) (no signed square root). "Does the A have the same
 * colour as the B?" asks for a product of the two objects' features, which the final fusion,
 * linear in its image input for a given question, cannot form; `scale` lets it be heard beside the
 * fusion's other inputs, as the places (docs/experiments.md §11). Needs 2 or more glimpses.
 */
export const GlimpsePairSchema = z
  .object({
    kind: z.literal('glimpse-pair'),
    k: z.number().int().min(1).default(5),
    o: z.number().int().min(1).default(64),
    scale: z.number().positive().max(100).default(30),
    staged: z.boolean().default(true),
  })
  .strict();

export type GlimpsePairConfig = z.infer<typeof GlimpsePairSchema>;

/** Parameters `pair.x…` and `pair.y…`. */
export class GlimpsePair {
  private readonly mfb: Mfb;

  constructor(
    store: ParamStore,
    private readonly cfg: GlimpsePairConfig,
    private readonly d: number,
  ) {
    this.mfb = new Mfb(store, 'pair', d, d, { k: cfg.k, o: cfg.o, dropout: 0 });
  }

  get outDim(): number {
    return this.mfb.outDim;
  }

  /** hop 1's pooled objects [B, G·d], G ≥ 2 → [B, o] */
  forward<T>(o: Ops<T>, objects: T): T {
    const [a, b] = [0, 1].map((g) => o.slice(objects, 1, g * this.d, this.d));
    const z = this.mfb.sumPool(o, o.mul(this.mfb.projectX.forward(o, a!), this.mfb.projectY.forward(o, b!)));
    return o.mul(l2Normalize(o, z, [-1]), this.cfg.scale);
  }
}
