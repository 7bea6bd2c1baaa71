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

/** tokenizer_config.json's count of the vocabulary entries after [PAD], [UNK] that training saw (our own tokenizers). */
export const TRAINED_WORDS = 'vqa_trained_words';

/** How many of the vocabulary's first ids training reaches: [PAD], [UNK] and the trained words (all ids when the tokenizer does not record them). */
export function trainedIdCount(files: TokenizerFiles): number {
  const n = files.config[TRAINED_WORDS];
  return typeof n === 'number' ? 2 + n : vocabularySize(files);
}

/**
 * The words training saw, for telling a user which of theirs the model never met; undefined for a
 * tokenizer that does not record them (a pretrained model's).
 */
export function trainedWords(files: TokenizerFiles): Set<string> | undefined {
  const byId = wordsById(files);
  if (!byId) return undefined;
  const n = files.config[TRAINED_WORDS];
  if (typeof n === 'number') return new Set(byId.slice(2, 2 + n));
  // A tokenizer saved before the count was recorded: the words come first, then the spelled pieces
  // (single letters and ##-pieces) to the end; a one-letter word such as "a" is among the words.
  let end = byId.length;
  while (end > 2 && byId[end - 1] !== undefined && (byId[end - 1]!.length === 1 || byId[end - 1]!.startsWith('##'))) end--;
  return new Set(byId.slice(2, end).filter(Boolean));
}

/** A word-piece vocabulary's entries, id = position; undefined for a tokenizer without one (a pretrained model's BPE). */
export function wordsById(files: TokenizerFiles): string[] | undefined {
  const vocab = (files.tokenizer.model as { vocab?: Record<string, number> | unknown[] }).vocab;
  if (!vocab || Array.isArray(vocab)) return undefined;
  const byId: string[] = [];
  for (const [w, id] of Object.entries(vocab)) byId[id] = w;
  return byId;
}
