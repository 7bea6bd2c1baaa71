import { Dense } from '../nn/layers.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import type { EncodedTokens, TokenEncoder } from './token_encoder.ts';

/** The trained part of `language: pretrained`: a linear map of each pretrained token state to width d. */
export class FrozenTokenEncoder implements TokenEncoder {
  private readonly project: Dense;

  constructor(store: ParamStore, stateWidth: number, d: number) {
    this.project = new Dense(store, 'language.project', stateWidth, d);
  }

  /**
   * Token states [B, T, C] (padding rows are masked later) projected to [B, T, d]; the pretrained
   * model has already mixed the words, so the vectors are the states.
   */
  encode<T>(o: Ops<T>, states: T): EncodedTokens<T> {
    const projected = this.project.forward(o, states);
    return { vectors: projected, states: projected };
  }
}
