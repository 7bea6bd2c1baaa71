import { Mfb } from '../fusion/mfb.ts';
import { l2Normalize } from '../nn/functions.ts';
import { GlimpseMlp } from '../nn/glimpse_mlp.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';

/** What the image attention reads: each image's regions once, the image of each question, and its guide. */
export interface ImageAttentionInputs<T> {
  /** regions of the distinct images [I, N, d] */
  perImage: T;
  /** the row of `perImage` of each question [B] */
  imageIndex: T;
  /** the question vector, or the word guide's glimpses side by side [B, guideDim] */
  guide: T;
}

/**
 * Question-guided attention over image regions: each region is fused with the guide by MFB (its
 * region projections computed once per image), signed square root and L2 norm as
 * `attention.norm` says, an MLP scores it per glimpse, and a softmax over regions gives the
 * weights [B, G, N]. Parameters `iatt.fusion.…` (MFB) and `iatt.hidden`/`iatt.out` (the MLP).
 */
export class ImageAttention {
  private readonly mfb: Mfb;
  private readonly scorer: GlimpseMlp;
  /** the guide's parts, one per glimpse, each scored alone (perGlimpse), or the whole guide once */
  private readonly guideParts: number;
  private readonly partWidth: number;

  /**
   * `perGlimpse`: the guide is G glimpses side by side and glimpse g scores the regions against
   * part g alone, with one MFB and a one-output MLP shared by the glimpses (the word-guide module).
   */
  constructor(
    store: ParamStore,
    private readonly cfg: { d: number; hidden: number; glimpses: number; k: number; o: number; norm: 'per-region' | 'joint' | 'none'; dropout: number },
    guideDim: number,
    perGlimpse: boolean,
  ) {
    this.guideParts = perGlimpse ? cfg.glimpses : 1;
    this.partWidth = guideDim / this.guideParts;
    this.mfb = new Mfb(store, 'iatt.fusion', cfg.d, this.partWidth, { k: cfg.k, o: cfg.o, dropout: cfg.dropout });
    this.scorer = new GlimpseMlp(store, 'iatt', cfg.o, cfg.hidden, perGlimpse ? 1 : cfg.glimpses, cfg.dropout);
  }

  /** → attention weights [B, G, N] */
  forward<T>(o: Ops<T>, x: ImageAttentionInputs<T>): T {
    const perPart = Array.from({ length: this.guideParts }, (_, p) => {
      const guide = this.guideParts === 1 ? x.guide : o.slice(x.guide, 1, p * this.partWidth, this.partWidth);
      return this.scorer.forward(o, this.scoreRegions(o, x.perImage, x.imageIndex, guide)); // [B, N, G or 1]
    });
    return o.softmax(o.transpose(o.concat(perPart, 2), [0, 2, 1]));
  }

  /** MFB of every region with the guide: [B, N, o]. */
  private scoreRegions<T>(o: Ops<T>, perImage: T, imageIndex: T, guide: T): T {
    const summed = this.mfb.fuseRegions(o, perImage, imageIndex, guide);
    const { norm } = this.cfg;
    return norm === 'none' ? summed : l2Normalize(o, o.signedSqrt(summed), norm === 'joint' ? [1, 2] : [2]);
  }
}
