import type { PreTrainedModel, Tensor } from '@xenova/transformers';
import { checkRecord, loadingFolder, locateModelFolder, localTransformers, recordFolder, type FolderRecord, type PretrainedSpec } from '../pretrained/folder.ts';
import type { EncodedQuestion } from './question_rows.ts';
import { QuestionTokenizer } from './tokenizer.ts';
import { readTokenizerFiles } from './tokenizer_files.ts';

type TensorClass = typeof import('@xenova/transformers').Tensor;

/**
 * A pretrained BERT-family text model from a local folder (not trained here). The tokenizer and the model are called
 * directly (the feature-extraction pipeline drops the attention mask): token states [T, C] per
 * question, with the padding positions zero and masked.
 */
export class PretrainedTextModel {
  private constructor(
    readonly record: FolderRecord,
    readonly tokenizer: QuestionTokenizer,
    private readonly model: PreTrainedModel,
    private readonly makeTensor: TensorClass,
  ) {}

  static async load(spec: PretrainedSpec, recorded?: FolderRecord): Promise<PretrainedTextModel> {
    const located = locateModelFolder(spec.model, 'language', spec.quantized);
    const record = recordFolder(spec.model, located);
    checkRecord('language', record, recorded, located.dir);
    const files = readTokenizerFiles(located.dir);
    const t = await localTransformers(located.root);
    const model = await loadingFolder('language', located, () => t.AutoModel.from_pretrained(located.id, { quantized: spec.quantized }));
    return new PretrainedTextModel(record, new QuestionTokenizer(files), model, t.Tensor);
  }

  /** Token states of several questions in one forward pass, each padded to `maxTokens`. */
  async states(questions: string[], maxTokens: number): Promise<EncodedQuestion[]> {
    const encoded = questions.map((q) => this.tokenizer.encode(q, maxTokens));
    const dims = [questions.length, maxTokens];
    const ids = new BigInt64Array(questions.length * maxTokens);
    const mask = new BigInt64Array(questions.length * maxTokens);
    encoded.forEach((e, b) => {
      e.ids.forEach((id, t) => (ids[b * maxTokens + t] = BigInt(id)));
      mask.fill(1n, b * maxTokens, b * maxTokens + e.tokens.length);
    });
    const out = (await this.model({ input_ids: new this.makeTensor('int64', ids, dims), attention_mask: new this.makeTensor('int64', mask, dims) })) as Record<string, Tensor>;
    const hidden = out.last_hidden_state ?? Object.values(out)[0]!;
    if (hidden.dims.length !== 3 || hidden.dims[1] !== maxTokens)
      throw new Error(`text model output has shape [${hidden.dims.join(', ')}]; expected [${questions.length}, ${maxTokens}, C]`);
    const width = hidden.dims[2]!;
    const data = hidden.data as Float32Array;
    return encoded.map((e, b) => {
      const values = new Float32Array(maxTokens * width);
      values.set(data.subarray(b * maxTokens * width, (b * maxTokens + e.tokens.length) * width));
      return { values, tokens: e.tokens };
    });
  }

  /** The width of the token states (one probe question). */
  async width(): Promise<number> {
    const [probe] = await this.states(['what is it'], 4);
    return probe!.values.length / 4;
  }
}
