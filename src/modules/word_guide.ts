import { z } from 'zod';
import type { tf } from '../backend/tf.ts';
import { GlimpseMlp } from '../nn/glimpse_mlp.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';

/**
 * What guides the image attention instead of the question vector: glimpses of its own over the
 * token embeddings, before the transformer mixes the words (for a pretrained language model, its
 * projected token states). On templated questions the question vector is dominated by the
 * template words, so an attention learned for one template does not fire for another; a glimpse
 * over the embeddings can pick out the word that names the object (docs/experiments.md).
 */
export const WordGuideSchema = z
  .object({
    kind: z.literal('word-guide'),
    /**
     * What the glimpse weights are computed from: the embeddings themselves, or the transformer's
     * word states ('states'), which know each word's place and so which object of the question it
     * describes; a weight from the embedding alone gives every occurrence of a word the same score
     * (docs/experiments.md §9). The guide pools the embeddings either way.
     */
    weights: z.enum(['embeddings', 'states']).default('embeddings'),
    /**
     * The image attention's glimpse g scores the regions against the guide's glimpse g alone (one
     * region fusion and scorer shared by the glimpses), so that each glimpse can find the object
     * its own phrase names (docs/experiments.md §11).
     */
    perGlimpse: z.boolean().default(false),
    /**
     * K > 0: the guide's word logits get a learned slope per glimpse over the words' relative
     * places, s_g·(t/(len − 1) − ½), starting evenly from −K (glimpse 1 reads the first words) to
     * +K (the last glimpse the last words), so that in "Is the A left of the B?" the glimpses start
     * on different phrases. 0: none.
     */
    slope: z.number().min(0).max(50).default(0),
    /**
     * One word score shared by the glimpses, which then differ only by their slopes: every glimpse
     * favours the words the score picks (in a first phase on one-object questions, the words that
     * describe an object) and its slope picks which of them, so a glimpse cannot settle on a word
     * no other glimpse reads, such as "color" in "Is the A the same color as the B?"
     * (docs/experiments.md §27). Needs `slope` > 0.
     */
    sharedScore: z.boolean().optional(),
  })
  .strict();

export type WordGuideConfig = z.infer<typeof WordGuideSchema>;

/** Parameters `iatt.wordatt.…` (the glimpse MLP) and `iatt.wordatt.slope`. */
export class WordGuide {
  private readonly glimpses: GlimpseMlp;
  private readonly slope?: tf.Variable;

  constructor(
    store: ParamStore,
    readonly cfg: WordGuideConfig,
    d: number,
    hidden: number,
    glimpseCount: number,
    dropout: number,
    private readonly maxTokens: number,
  ) {
    this.glimpses = new GlimpseMlp(store, 'iatt.wordatt', d, hidden, cfg.sharedScore ? 1 : glimpseCount, dropout);
    if (cfg.slope > 0) {
      const g = glimpseCount;
      const start = Float32Array.from({ length: g }, (_, i) => (g === 1 ? 0 : -cfg.slope + (2 * cfg.slope * i) / (g - 1)));
      this.slope = store.add('iatt.wordatt.slope', [g], { values: start });
    }
  }

  /** words [B, T, d] (the transformer's states), embeddings [B, T, d], mask [B, T] → the guide [B, G·d] and each glimpse's word weights [B, G, T] */
  forward<T>(o: Ops<T>, x: { words: T; embeddings: T; mask: T }): { vector: T; weights: T } {
    const keys = this.cfg.weights === 'states' ? x.words : x.embeddings;
    return this.glimpses.poolWords(o, keys, x.embeddings, x.mask, this.slope && placeOffsets(o, x.mask, o.param(this.slope), this.maxTokens));
  }
}

/** s_g·(t/(len − 1) − ½) for each token t of each question, len its real tokens in mask [B, T]: [B, T, G] for slopes [G]. */
export function placeOffsets<T>(o: Ops<T>, mask: T, slope: T, maxTokens: number): T {
  const length = o.size(mask, 1) ?? maxTokens;
  const places = o.constant(
    Float32Array.from({ length }, (_, t) => t),
    [length],
  );
  const last = o.maximum(o.sub(o.sum(mask, [1], true), 1), 1); // [B, 1]
  const relative = o.sub(o.div(places, last), 0.5); // [B, T]
  return o.mul(o.expandDims(relative, 2), slope);
}
