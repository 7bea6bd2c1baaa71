import type { tf } from '../backend/tf.ts';
import { maskedSoftmax } from '../nn/functions.ts';
import { Dense, LayerNorm } from '../nn/layers.ts';
import type { Ops } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import type { EncodedTokens, TokenEncoder } from './token_encoder.ts';
import { WORD_VECTOR_TABLES, type WordVectorTable } from './word_vectors.ts';

/** The transformer's shape: config model.language of kind 'transformer'. */
export interface TransformerShape {
  maxTokens: number;
  layers: number;
  heads: number;
  embeddingStd: number;
  wordVectors?: WordVectorTable;
  wordOffsetDropout?: number;
}

/** The feed-forward layer's width is this many times d. */
const FFN_MULTIPLIER = 2;
/** Standard deviation of the initial position embeddings (GPT's). */
const POSITION_STD = 0.02;

class EncoderLayer {
  private readonly norm1: LayerNorm;
  private readonly norm2: LayerNorm;
  private readonly qkv: Dense;
  private readonly out: Dense;
  private readonly ffn1: Dense;
  private readonly ffn2: Dense;

  constructor(
    store: ParamStore,
    name: string,
    private readonly d: number,
    private readonly heads: number,
    private readonly rate: number,
  ) {
    this.norm1 = new LayerNorm(store, `${name}.norm1`, d);
    this.norm2 = new LayerNorm(store, `${name}.norm2`, d);
    this.qkv = new Dense(store, `${name}.qkv`, d, 3 * d);
    this.out = new Dense(store, `${name}.out`, d, d);
    this.ffn1 = new Dense(store, `${name}.ffn1`, d, FFN_MULTIPLIER * d);
    this.ffn2 = new Dense(store, `${name}.ffn2`, FFN_MULTIPLIER * d, d);
  }

  /** Pre-norm block: x + Attn(LN(x)), then x + FFN(LN(x)); `keyMask` [B, 1, 1, T] hides padding. */
  forward<T>(o: Ops<T>, x: T, keyMask: T): T {
    const hd = this.d / this.heads;
    const qkv = this.qkv.forward(o, this.norm1.forward(o, x));
    const heads = (part: number) => o.transpose(o.reshape(o.slice(qkv, 2, part * this.d, this.d), [0, 0, this.heads, hd]), [0, 2, 1, 3]); // [B, H, T, hd]
    const [q, k, v] = [heads(0), heads(1), heads(2)];
    const scores = o.mul(o.matMul(q, o.transpose(k, [0, 1, 3, 2])), 1 / Math.sqrt(hd)); // [B, H, T, T]
    const weights = o.dropout(maskedSoftmax(o, scores, keyMask, 3), this.rate);
    const context = o.reshape(o.transpose(o.matMul(weights, v), [0, 2, 1, 3]), [0, 0, this.d]);
    const h = o.add(x, o.dropout(this.out.forward(o, context), this.rate));
    const f = this.ffn2.forward(o, o.relu(this.ffn1.forward(o, this.norm2.forward(o, h))));
    return o.add(h, o.dropout(f, this.rate));
  }
}

/**
 * Token embedding + learned positions, pre-norm transformer layers with a padding mask, final norm.
 * With word vectors, a token's embedding is its frozen table row projected to d, plus the word's
 * trained offset when the shape asks for offsets.
 */
export class TransformerEncoder implements TokenEncoder {
  private readonly embedding: tf.Variable;
  private readonly projection?: Dense;
  private readonly offsets?: tf.Variable;
  private readonly offsetDropout: number;
  /** the offsets' last row: the shared zero row that every id from it on reads (words training never saw) */
  private readonly untrainedRow: number;
  private readonly positions: tf.Variable;
  private readonly maxTokens: number;
  private readonly layers: EncoderLayer[] = [];
  private readonly finalNorm: LayerNorm;

  constructor(
    store: ParamStore,
    d: number,
    shape: TransformerShape,
    private readonly rate: number,
    vocabSize: number,
    /** the table's rows for the vocabulary, rebuilt from the shipped table rather than stored (VqaModel) */
    wordVectors?: Float32Array,
    /** ids below this are [PAD], [UNK] and the words training saw (the vocabulary's first ids) */
    trainedIds = vocabSize,
  ) {
    if (shape.wordVectors) {
      const width = WORD_VECTOR_TABLES[shape.wordVectors].width;
      this.embedding = store.add('language.wordVectors', [vocabSize, width], wordVectors ? { values: wordVectors } : 'zeros', { derived: true });
      this.projection = new Dense(store, 'language.wordProjection', width, d);
      // one row per trained id and one zero row for all others: no gradient ever reaches it
      if (shape.wordOffsetDropout !== undefined) this.offsets = store.add('language.wordOffsets', [trainedIds + 1, d], 'zeros');
    } else {
      this.embedding = store.add('language.embedding', [vocabSize, d], { normal: shape.embeddingStd });
    }
    this.offsetDropout = shape.wordOffsetDropout ?? 0;
    this.untrainedRow = trainedIds;
    this.maxTokens = shape.maxTokens;
    this.positions = store.add('language.positions', [shape.maxTokens, d], { normal: POSITION_STD });
    for (let i = 0; i < shape.layers; i++) this.layers.push(new EncoderLayer(store, `language.layer${i}`, d, shape.heads, rate));
    this.finalNorm = new LayerNorm(store, 'language.norm', d);
  }

  /**
   * tokens [B, T] int32 with T ≤ maxTokens (a batch may be cut to its longest question), mask
   * [B, T] (1 = real token). The vectors are the embeddings the layers read, offsets dropped as they
   * were: what reads them learns the unseen words' offset-less vectors too.
   */
  encode<T>(o: Ops<T>, tokens: T, mask: T): EncodedTokens<T> {
    const vectors = this.embed(o, tokens, mask);
    const length = o.size(tokens, 1) ?? this.maxTokens;
    const positions = length === this.maxTokens ? o.param(this.positions) : o.slice(o.param(this.positions), 0, 0, length);
    let x = o.dropout(o.add(vectors, positions), this.rate);
    const keyMask = o.expandDims(o.expandDims(mask, 1), 1);
    for (const layer of this.layers) x = layer.forward(o, x, keyMask);
    return { vectors, states: this.finalNorm.forward(o, x) };
  }

  /** Embeddings [B, T, d]. */
  private embed<T>(o: Ops<T>, tokens: T, mask: T): T {
    const rows = o.gather(o.param(this.embedding), tokens);
    if (!this.projection) return rows;
    const projected = this.projection.forward(o, rows);
    if (!this.offsets) return projected;
    const offsets = o.gather(o.param(this.offsets), o.capIds(tokens, this.untrainedRow));
    // a token's offset is kept or dropped whole: [B, T, 1] of 0 or 1/(1 − rate) in training, the mask otherwise
    return o.add(projected, o.mul(offsets, o.dropout(o.expandDims(mask, 2), this.offsetDropout)));
  }
}
