import path from 'node:path';
import { readJsonFile } from '../util/json_file.ts';

// Kept apart from tokenizer.ts so that threads which only run the network (training and inference
// workers) never load @xenova/transformers and, through it, onnxruntime's native module.

/** The two files of a Hugging Face tokenizer, as parsed JSON. */
export interface TokenizerFiles {
  tokenizer: Record<string, unknown>;
  config: Record<string, unknown>;
}

/** A folder's tokenizer.json and tokenizer_config.json (a checkpoint's or a pretrained model's). */
export function readTokenizerFiles(dir: string): TokenizerFiles {
  const file = path.join(dir, 'tokenizer.json');
  const tokenizer = readJsonFile(file) as Record<string, unknown>;
  if (typeof tokenizer.model !== 'object' || tokenizer.model === null) throw new Error(`${file}: not a Hugging Face tokenizer (no "model")`);
  return { tokenizer, config: readJsonFile(path.join(dir, 'tokenizer_config.json')) as Record<string, unknown> };
}

/** Ids the tokenizer can produce: its model's vocabulary plus added tokens outside it. */
export function vocabularySize(files: TokenizerFiles): number {
  const model = files.tokenizer.model as { vocab?: Record<string, number> | [string, number][] };
  const ids = Array.isArray(model.vocab) ? model.vocab.map((_, i) => i) : Object.values(model.vocab ?? {});
  const added = ((files.tokenizer.added_tokens ?? []) as { id: number }[]).map((t) => t.id);
  // a loop, not Math.max(...ids): a vocabulary of some 100,000 words overflows the call stack
  return [...ids, ...added].reduce((m, id) => Math.max(m, id), -1) + 1;
}
