import { tf } from '../backend/tf.ts';
import type { OnnxGraph, Value } from '../nn/onnx_graph.ts';
import { maskedSoftmax as onnxMaskedSoftmax } from '../nn/onnx_ops.ts';
import { Dense, LayerNorm } from '../nn/layers.ts';
import { dropout, maskedSoftmax, matMul } from '../nn/ops.ts';
import type { ParamStore } from '../nn/params.ts';
import type { ModelConfig } from '../config/config.ts';
import type { TokenEncoder } from './token_encoder.ts';

type TransformerConfig = Extract<ModelConfig['language'], { kind: 'transformer' }>;

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
    ffn: number,
    private readonly rate: number,
  ) {
    this.norm1 = new LayerNorm(store, `${name}.norm1`, d);
    this.norm2 = new LayerNorm(store, `${name}.norm2`, d);
    this.qkv = new Dense(store, `${name}.qkv`, d, 3 * d);
    this.out = new Dense(store, `${name}.out`, d, d);
    this.ffn1 = new Dense(store, `${name}.ffn1`, d, ffn);
    this.ffn2 = new Dense(store, `${name}.ffn2`, ffn, d);
  }

  /** Pre-norm block: x + Attn(LN(x)), then x + FFN(LN(x)); `keyMask` [B,1,1,T] hides padding. */
  apply(x: tf.Tensor3D, keyMask: tf.Tensor, training: boolean): tf.Tensor3D {
    const [b, t] = x.shape;
    const hd = this.d / this.heads;
    const split = (m: tf.Tensor) => tf.transpose(tf.reshape(m, [b, t, this.heads, hd]), [0, 2, 1, 3]); // [B,H,T,hd]
    const [q, k, v] = tf.split(this.qkv.apply(this.norm1.apply(x)), 3, 2).map(split) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const scores = tf.mul(matMul(q, tf.transpose(k, [0, 1, 3, 2])), 1 / Math.sqrt(hd)); // [B,H,T,T]
    const weights = dropout(maskedSoftmax(scores, keyMask, 3), this.rate, training);
    const context = tf.reshape(tf.transpose(matMul(weights, v), [0, 2, 1, 3]), [b, t, this.d]);
    const h = tf.add(x, dropout(this.out.apply(context), this.rate, training));
    const f = this.ffn2.apply(tf.relu(this.ffn1.apply(this.norm2.apply(h))));
    return tf.add(h, dropout(f, this.rate, training)) as tf.Tensor3D;
  }

  /** The same block in inference mode; `keyMask` is [B, 1, 1, T]. */
  toOnnx(g: OnnxGraph, x: Value, keyMask: Value): Value {
    const hd = this.d / this.heads;
    const heads = (m: Value, perm: number[]) => g.transpose(g.reshape(m, [0, 0, this.heads, hd]), perm);
    const [q, k, v] = g.opN('Split', [this.qkv.toOnnx(g, this.norm1.toOnnx(g, x))], 3, { axis: { int: 2 } }) as [Value, Value, Value];
    const scores = g.op('Mul', [g.op('MatMul', [heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])]), g.scalar(1 / Math.sqrt(hd))]);
    const weights = onnxMaskedSoftmax(g, scores, keyMask, 3);
    const context = g.reshape(g.transpose(g.op('MatMul', [weights, heads(v, [0, 2, 1, 3])]), [0, 2, 1, 3]), [0, 0, this.d]);
    const h = g.op('Add', [x, this.out.toOnnx(g, context)]);
    const f = this.ffn2.toOnnx(g, g.op('Relu', [this.ffn1.toOnnx(g, this.norm2.toOnnx(g, h))]));
    return g.op('Add', [h, f]);
  }
}

/** Token embedding + learned positions, pre-norm transformer layers with a padding mask, final norm. */
export class TransformerEncoder implements TokenEncoder {
  private readonly embedding: tf.Variable;
  private readonly positions: tf.Variable;
  private readonly layers: EncoderLayer[] = [];
  private readonly finalNorm: LayerNorm;

  constructor(
    store: ParamStore,
    private readonly d: number,
    language: TransformerConfig,
    private readonly rate: number,
    vocabSize: number,
  ) {
    this.embedding = store.add('language.embedding', [vocabSize, d], { normal: language.embeddingStd });
    this.positions = store.add('language.positions', [language.maxTokens, d], { normal: language.positionStd });
    for (let i = 0; i < language.layers; i++) {
      this.layers.push(new EncoderLayer(store, `language.layer${i}`, d, language.heads, language.ffnMultiplier * d, rate));
    }
    this.finalNorm = new LayerNorm(store, 'language.norm', d);
  }

  /** tokens [B, T] int32, mask [B, T] (1 = real token) → states [B, T, d] */
  apply(tokens: tf.Tensor, mask: tf.Tensor2D, training: boolean): tf.Tensor3D {
    const [b, t] = tokens.shape as [number, number];
    const embedded = this.tokenVectors(tokens);
    const positions = tf.slice(this.positions, [0, 0], [t, this.d]);
    let x = dropout(tf.add(embedded, positions), this.rate, training) as tf.Tensor3D;
    const keyMask = tf.reshape(mask, [b, 1, 1, t]);
    for (const layer of this.layers) x = layer.apply(x, keyMask, training);
    return this.finalNorm.apply(x) as tf.Tensor3D;
  }

  /** Each token's embedding alone, before positions and layers mix in the other words: [B, T, d]. */
  tokenVectors(tokens: tf.Tensor): tf.Tensor3D {
    const [b, t] = tokens.shape as [number, number];
    return tf.reshape(tf.gather(this.embedding, tf.reshape(tokens, [-1])), [b, t, this.d]);
  }

  tokenVectorsToOnnx(g: OnnxGraph, tokens: Value): Value {
    return g.op('Gather', [g.tensor('language.embedding', this.embedding), tokens], { axis: { int: 0 } });
  }

  /** tokens [B, T] int32 with T = maxTokens, mask [B, T] → states [B, T, d] */
  toOnnx(g: OnnxGraph, tokens: Value, mask: Value): Value {
    const embedded = g.op('Gather', [g.tensor('language.embedding', this.embedding), tokens], { axis: { int: 0 } });
    let x = g.op('Add', [embedded, g.tensor('language.positions', this.positions)]);
    const keyMask = g.unsqueeze(mask, [1, 2]);
    for (const layer of this.layers) x = layer.toOnnx(g, x, keyMask);
    return this.finalNorm.toOnnx(g, x);
  }
}
