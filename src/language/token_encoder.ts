import type { Ops } from '../nn/ops.ts';

/** A question read by an encoder: its tokens' own vectors and the states after the words mix. */
export interface EncodedTokens<T> {
  /** [B, T, d] each token's vector before the encoder mixes the words (what the states start from) */
  vectors: T;
  /** [B, T, d] */
  states: T;
}

/** What every question encoder gives the network: vectors of width d per token. */
export interface TokenEncoder {
  /** token ids [B, T] int32 (transformer) or pretrained token states [B, T, C], mask [B, T] (1 = real token) */
  encode<T>(o: Ops<T>, tokens: T, mask: T): EncodedTokens<T>;
}
