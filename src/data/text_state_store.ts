import { createHash } from 'node:crypto';
import type { PretrainedTextModel } from '../language/pretrained_model.ts';
import type { EncodedQuestion, QuestionRows } from '../language/question_rows.ts';
import { fromFloat16Row, toFloat16Array } from '../nn/float16.ts';
import { openPackedStore, type RowFile } from './packed_store.ts';

/** The pretrained text model's token states of a split's questions, float16 rows of a packed store read as batches need them. */
class StoredQuestionStates implements QuestionRows {
  constructor(
    private readonly rowOf: Map<string, number>,
    private readonly file: RowFile,
    readonly width: number,
    readonly maxTokens: number,
  ) {}

  /**
   * The question's states, and as many tokens as it had: their text is not stored, only their
   * count is read (it makes the padding mask).
   */
  encode(question: string): EncodedQuestion {
    const r = this.rowOf.get(question);
    if (r === undefined) throw new Error(`no pretrained token states for the question "${question}"`);
    const values = new Float32Array(this.maxTokens * this.width);
    fromFloat16Row(this.file.read(r), values, 0);
    return { values, tokens: new Array<string>(realTokenCount(values, this.width)).fill('') };
  }
}

/** The model's states are zero at the padding positions (PretrainedTextModel.states): the real tokens are the rows up to the last non-zero one. */
function realTokenCount(values: Float32Array, width: number): number {
  for (let t = values.length / width - 1; t >= 0; t--) {
    for (let c = t * width; c < (t + 1) * width; c++) if (values[c] !== 0) return t + 1;
  }
  return 0;
}

/**
 * The token states of every distinct question of a split, computed once into the packed store
 * `cacheDir/SPLIT-text-MODEL-SHA.bin` (float16; resumable, see openPackedStore), reused by later
 * epochs, runs and `vqa eval`, and read by row: VQA v2 train's 444k questions at 20 × 384 states
 * would be 13.6 GB held as float32.
 */
export async function openTextStateStore(
  splitName: string,
  questions: string[],
  /** PretrainedTextModel, or the scale benchmark's random one */
  model: Pick<PretrainedTextModel, 'record' | 'states'>,
  o: { cacheDir: string; maxTokens: number; width: number; onProgress?: (done: number, total: number) => void },
): Promise<QuestionRows> {
  const distinct = [...new Set(questions)].sort();
  const rowOf = new Map(distinct.map((q, i) => [q, i]));
  const questionsSha = createHash('sha256').update(distinct.join('\n')).digest('hex');
  const safeName = model.record.model.replace(/[^A-Za-z0-9._-]+/g, '_');
  const rows = await openPackedStore({
    cacheDir: o.cacheDir,
    name: `${splitName}-text-${safeName}-${model.record.sha256.slice(0, 12)}-${o.maxTokens}t`,
    fingerprint: `text states v1 ${model.record.sha256} float16 ${o.maxTokens}x${o.width} ${questionsSha}`,
    ids: distinct.map((_, i) => i),
    rowBytes: o.maxTokens * o.width * 2,
    makeRows: async (ids) =>
      (
        await model.states(
          ids.map((i) => distinct[i]!),
          o.maxTokens,
        )
      ).map((e) => {
        const half = toFloat16Array(e.values as Float32Array);
        return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
      }),
    fileOf: (i) => `the question "${distinct[i]}"`,
    skipBad: false,
    onProgress: o.onProgress,
    chunk: 64,
  });
  return new StoredQuestionStates(rowOf, rows.rows, o.width, o.maxTokens);
}
