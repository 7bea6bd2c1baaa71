import { z } from 'zod';
import type { Ops } from '../nn/ops.ts';
import { regionCentres } from '../vision/region_centres.ts';

/**
 * The fusion also gets where each attention map looked (hop 1's glimpses and the relational
 * module's): the weighted centre of its regions, (x, y) in [-1, 1], times `scale`. Inside the
 * pooled image vector a place is a few of d features mixed with the object's looks, too weak for
 * the fusion to tell whether one object is left of another; at scale 1 they are still drowned by
 * the fusion's other inputs, at 30 they are heard (docs/experiments.md §11).
 */
export const PlacesSchema = z
  .object({
    kind: z.literal('places'),
    scale: z.number().positive().max(100).default(30),
    /** zero while train.curriculum's epochs run: the first phase's questions do not need them */
    staged: z.boolean().default(true),
  })
  .strict();

export type PlacesConfig = z.infer<typeof PlacesSchema>;

/** Σ_n a[b,m,n]·c_n per attention map, times the scale; no parameters. */
export class Places {
  private readonly centres: Float32Array;
  private readonly regionCount: number;

  constructor(
    private readonly cfg: PlacesConfig,
    grid: [number, number],
  ) {
    this.centres = regionCentres(...grid);
    this.regionCount = grid[0] * grid[1];
  }

  /** maps [B, M, N] → [B, M·2] (x then y per map) */
  forward<T>(o: Ops<T>, maps: T): T {
    const looked = o.matMul(maps, o.constant(this.centres, [this.regionCount, 2])); // [B, M, 2]
    return o.reshape(o.mul(looked, this.cfg.scale), [0, -1]);
  }
}
