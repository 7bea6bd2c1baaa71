import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selectBackend } from '../src/backend/select.ts';
import { tf } from '../src/backend/tf.ts';
import { parseRunConfig, type RunConfig } from '../src/config/config.ts';

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
