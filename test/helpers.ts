import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { parseRunConfig, type RunConfig } from '../src/config/config.ts';
import { AnswerVocab } from '../src/data/answers.ts';
import { loadDataset } from '../src/data/manifest.ts';
import { loadSplit } from '../src/data/split.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import type { TokenizerFiles } from '../src/language/tokenizer_files.ts';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `vqa-${prefix}-`));
}

/** The product's default backend for tests: wasm with the project's training kernels. */
export async function useWasm(): Promise<void> {
  await selectBackend('wasm');
  await tf.setBackend('wasm');
}

/** A model small enough to train hundreds of steps in seconds. */
export function tinyConfig(overrides: { model?: object; train?: object } = {}): RunConfig {
  return parseRunConfig(
    {
      model: {
        imageSize: 24,
        d: 16,
        vision: { channels: [8, 16], strides: [2, 2] },
        language: { maxTokens: 12, layers: 1, heads: 2 },
        attention: { hidden: 16, glimpses: 2, k: 2, o: 8 },
        fusion: { kind: 'mfb', k: 2, o: 32 },
        ...overrides.model,
      },
      train: { epochs: 1, batchSize: 16, warmupEpochs: 0, decayEpochs: [], lr: 0.003, ...overrides.train },
    },
    'test config',
  );
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A small clevr-lite set at 24×24 in a fresh temporary folder. */
export async function tinyClevr(prefix: string, o: { train: number; val: number; questionsPerImage: number; seed: number }): Promise<string> {
  const { synthesize } = await import('../src/cli/synth.ts');
  const dir = path.join(tempDir(prefix), 'clevr');
  await synthesize({ kind: 'clevr-lite', out: dir, imageSize: 24, ...o });
  return dir;
}

/** The question tokenizer and the answer vocabulary (at most `answers`) of a data set's training questions, as a new run builds them. */
export function trainVocabularies(dataDir: string, answers: number): { tokenizer: TokenizerFiles; answers: AnswerVocab } {
  const questions = loadSplit(loadDataset(dataDir), 'train').samples;
  return {
    tokenizer: QuestionTokenizer.build(questions.map((s) => s.question)).files,
    answers: AnswerVocab.build(
      questions.map((s) => s.annotation!),
      answers,
    ),
  };
}
