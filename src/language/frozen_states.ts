import { Dense } from '../nn/layers.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import type { TokenEncoder } from './token_encoder.ts';

/** The trained part of `language: pretrained`: a linear map of each pretrained token state to width d. */
export class FrozenTokenEncoder implements TokenEncoder {
  private readonly project: Dense;

  constructor(store: ParamStore, stateWidth: number, d: number) {
    this.project = new Dense(store, 'language.project', stateWidth, d);
  }

  /** token states [B, T, C] (padding rows are masked later) → [B, T, d] */
  forward<T>(o: Ops<T>, states: T): T {
    return this.project.forward(o, states);
  }

  /** The projected states: the pretrained model has already mixed the words, there is nothing earlier to read. */
  tokenVectors<T>(o: Ops<T>, states: T): T {
    return this.project.forward(o, states);
  }
}
