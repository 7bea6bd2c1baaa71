import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromFloat16Bits } from '../nn/float16.ts';
import { vocabularySize, wordsById, type TokenizerFiles } from './tokenizer_files.ts';

/**
 * Word-vector tables the package ships in data/word-vectors/ (made by scripts/word-vectors.mjs):
 * GloVe 6B 100-d, the MFB paper's start for its question encoder, for the 40,011 most frequent
 * words. A model built on one reads words through the frozen table, so a word that training never
 * saw lands near the trained words that mean the same.
 */
export const WORD_VECTOR_TABLES = { 'glove-6b-100d': { width: 100 } } as const;
export type WordVectorTable = keyof typeof WORD_VECTOR_TABLES;

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'data', 'word-vectors');

export interface WordVectors {
  words: string[];
  width: number;
  /** words.length × width, row-major */
  values: Float32Array;
}

const loaded = new Map<WordVectorTable, WordVectors>();

/** The shipped table, decoded once per process (every model built on it reads the same rows). */
export function loadWordVectors(name: WordVectorTable): WordVectors {
  let table = loaded.get(name);
  if (!table) loaded.set(name, (table = readTable(name)));
  return table;
}

function readTable(name: WordVectorTable): WordVectors {
  const metaFile = path.join(DIR, `${name}.json`);
  const binFile = path.join(DIR, `${name}.bin`);
  const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as { words: string[]; width: number };
  const bytes = fs.readFileSync(binFile);
  const n = meta.words.length * meta.width;
  if (bytes.length !== 2 * n) throw new Error(`${binFile}: ${bytes.length} bytes, expected ${2 * n} (${meta.words.length} words × ${meta.width} float16)`);
  const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = fromFloat16Bits(bits[i]!);
  return { words: meta.words, width: meta.width, values };
}

/** The table's rows for a vocabulary, in its order; rows of words the table lacks (and of specials) stay zero. */
export function rowsFor(table: WordVectors, vocabulary: readonly string[]): Float32Array {
  const index = new Map(table.words.map((w, i) => [w, i]));
  const out = new Float32Array(vocabulary.length * table.width);
  vocabulary.forEach((w, i) => {
    const row = index.get(w);
    if (row !== undefined) out.set(table.values.subarray(row * table.width, (row + 1) * table.width), i * table.width);
  });
  return out;
}

/**
 * The table's rows for a question tokenizer's ids: a model keeps only the name of its table and
 * rebuilds these on load (40,000 words × 100 floats would be most of its folder).
 */
export function rowsForTokenizer(name: WordVectorTable, files: TokenizerFiles): Float32Array {
  const byId = wordsById(files);
  if (!byId) throw new Error(`word vectors '${name}' need a word-piece tokenizer with a vocabulary (the model's own, not a pretrained one)`);
  return rowsFor(
    loadWordVectors(name),
    Array.from({ length: vocabularySize(files) }, (_, id) => byId[id] ?? ''),
  );
}
