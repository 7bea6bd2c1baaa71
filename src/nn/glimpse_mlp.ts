import { attend, maskedSoftmax } from './functions.ts';
import { Dense } from './layers.ts';
import type { Ops } from './ops.ts';
import type { ParamStore } from './params.ts';

/** Two-layer per-position MLP to `glimpses` attention logits. */
export class GlimpseMlp {
  private readonly hidden: Dense;
  private readonly out: Dense;

  constructor(
    store: ParamStore,
    name: string,
    inDim: number,
    hiddenDim: number,
    glimpses: number,
    private readonly rate: number,
  ) {
    this.hidden = new Dense(store, `${name}.hidden`, inDim, hiddenDim);
    this.out = new Dense(store, `${name}.out`, hiddenDim, glimpses);
  }

  forward<T>(o: Ops<T>, x: T): T {
    return this.out.forward(o, o.dropout(o.relu(this.hidden.forward(o, x)), this.rate));
  }

  /**
   * Glimpse weights over the words from `keys` [B, T, ·] (plus `offsets` [B, T, G] on the logits,
   * which broadcast a single glimpse's logits to G),
   * softmax over the real words of `mask` [B, T], pooling `values` [B, T, D]: weights [B, G, T]
   * and the pooled vector [B, G·D].
   */
  poolWords<T>(o: Ops<T>, keys: T, values: T, mask: T, offsets?: T): { weights: T; vector: T } {
    const logits = this.forward(o, keys); // [B, T, G]
    const weights = maskedSoftmax(o, o.transpose(offsets ? o.add(logits, offsets) : logits, [0, 2, 1]), o.expandDims(mask, 1), 2);
    return { weights, vector: attend(o, values, weights) };
  }
}
