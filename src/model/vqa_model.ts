import { tf } from '../backend/tf.ts';
import { AnswerVocab } from '../data/answers.ts';
import { trainedIdCount, vocabularySize, type TokenizerFiles } from '../language/tokenizer_files.ts';
import { rowsForTokenizer } from '../language/word_vectors.ts';
import type { PretrainedRecords } from './pretrained_encoders.ts';
import { readCheckpoint, encodeTensors, encodeTensorsFloat16, writeFolderAtomically, type ModelCard } from './checkpoint.ts';
import type { RunConfig } from '../config/config.ts';
import { inference } from '../nn/eager_ops.ts';
import { VqaNet, type NetInputs } from './net.ts';

export interface Prediction {
  /** top answers with softmax scores, best first */
  answers: { answer: string; score: number }[];
  /** [glimpse][token] */
  questionAttention: number[][];
  /** [glimpse][region] */
  imageAttention: number[][];
  /** the image's distance from the training scenes over the model's threshold: above 1 is out of distribution */
  imageDistance: number;
}

/**
 * Everything needed to answer a question: network, tokenizer, answer list and config, plus the
 * pretrained model folders it was trained with, if any (those are needed too, and checked on load).
 */
export class VqaModel {
  readonly net: VqaNet;

  constructor(
    public config: RunConfig,
    readonly tokenizer: TokenizerFiles,
    readonly answers: AnswerVocab,
    readonly pretrained: PretrainedRecords = {},
  ) {
    const lang = config.model.language;
    const wordVectors = lang.kind === 'transformer' && lang.wordVectors ? rowsForTokenizer(lang.wordVectors, tokenizer) : undefined;
    this.net = new VqaNet(config.model, vocabularySize(tokenizer), answers.size, config.train.seed, wordVectors, trainedIdCount(tokenizer));
  }

  static load(dir: string): { model: VqaModel; card: ModelCard } {
    const ckpt = readCheckpoint(dir);
    const model = new VqaModel(ckpt.config, ckpt.tokenizer, new AnswerVocab(ckpt.answers), ckpt.pretrained);
    try {
      model.net.store.assign(ckpt.weights, dir);
    } catch (err) {
      model.dispose();
      throw err;
    } finally {
      tf.dispose(Object.values(ckpt.weights));
    }
    return { model, card: ckpt.card };
  }

  /** Writes the model folder atomically; `float16` halves the weights file for released models. */
  async save(dir: string, card: ModelCard, extra: Record<string, string | Uint8Array> = {}, float16 = false): Promise<void> {
    const weights = await (float16 ? encodeTensorsFloat16 : encodeTensors)(this.net.store.state());
    writeFolderAtomically(dir, {
      'config.json': `${JSON.stringify(this.config, null, 2)}\n`,
      'weights.bin': weights.bin,
      'weights.json': weights.specs,
      'answers.json': JSON.stringify(this.answers.answers),
      'tokenizer.json': JSON.stringify(this.tokenizer.tokenizer),
      'tokenizer_config.json': JSON.stringify(this.tokenizer.config),
      ...(this.pretrained.vision || this.pretrained.language ? { 'pretrained.json': `${JSON.stringify(this.pretrained, null, 2)}\n` } : {}),
      'model-card.json': `${JSON.stringify(card, null, 2)}\n`,
      ...extra,
    });
  }

  /** Forward pass in inference mode; reads back the top-k answers and attention per question. */
  async predict(inputs: NetInputs<tf.Tensor>, topK: number): Promise<Prediction[]> {
    const [probs, qAtt, iAtt, dist] = tf.tidy(() => {
      const out = this.net.forward(inference, inputs);
      return [tf.softmax(out.logits) as tf.Tensor2D, out.questionAttention as tf.Tensor3D, out.imageAttention as tf.Tensor3D, out.imageDistance as tf.Tensor1D];
    });
    try {
      const k = Math.min(topK, this.answers.size);
      const top = tf.topk(probs, k);
      const [values, indices, q, im, d] = await Promise.all([top.values.array(), top.indices.array(), qAtt.array(), iAtt.array(), dist.array()]);
      tf.dispose([top.values, top.indices]);
      return values.map((row, b) => ({
        answers: row.map((score, j) => ({ answer: this.answers.answers[indices[b]![j]!]!, score })),
        questionAttention: q[b]!,
        imageAttention: im[b]!,
        imageDistance: d[b]!,
      }));
    } finally {
      tf.dispose([probs, qAtt, iAtt, dist]);
    }
  }

  /** What `vqa calibrate` fitted for questions with a word training never saw (1 before it ran). */
  unseenWordScale(): number {
    return this.net.familiarity.unseenWordScale.dataSync()[0]!;
  }

  dispose(): void {
    this.net.dispose();
  }
}
