import type { Ops } from '../nn/ops.ts';

/** What every question encoder gives the network: one vector of width d per token. */
export interface TokenEncoder {
  /** token ids [B, T] int32 (transformer) or pretrained token states [B, T, C], mask [B, T] → states [B, T, d] */
  forward<T>(o: Ops<T>, tokens: T, mask: T): T;
  /** each token's vector before this encoder mixes the words: [B, T, d] */
  tokenVectors<T>(o: Ops<T>, tokens: T): T;
}
