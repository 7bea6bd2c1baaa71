import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.ts';

const bench = path.join(import.meta.dirname, '..', 'bin', 'bench.js');
// a VQA v2-shaped set small enough for the suite; the benchmark itself runs at full size (README)
const tiny = [
  '--images',
  '40',
  '--val-images',
  '10',
  '--regions',
  '4',
  '--width',
  '8',
  '--text-width',
  '8',
  '--max-tokens',
  '6',
  '--d',
  '16',
  '--steps',
  '4',
  '--eval-questions',
  '30',
  '--batch',
  '8',
];

function scale(dir: string) {
  const r = spawnSync(process.execPath, [bench, 'scale', ...tiny, '--dir', dir], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  expect(r.status, r.stderr).toBe(0);
  return { out: r.stdout, result: JSON.parse(r.stdout.trim().split('\n').at(-1)!) };
}

describe('npm run bench -- scale', () => {
  it('builds a VQA v2-shaped set with its feature and text-state stores once, then trains, evaluates and reports without leaking tensors', () => {
    const dir = tempDir('scale-bench');
    const first = scale(dir);
    expect(first.out).toContain('wrote the question and annotation files');
    expect(first.out).toMatch(/set: train 40 images, \d+ questions .*; val 10 images, \d+ questions; \d+ answers/);
    expect(first.result.questions).toBeGreaterThanOrEqual(40 * 5);
    expect(first.result.questions).toBeLessThanOrEqual(40 * 6);
    // 40 and 10 images × 4 regions × 8 values in float16
    expect(first.result.trainFeaturesGib * 2 ** 30).toBe(40 * 4 * 8 * 2);
    expect(first.result.valFeaturesGib * 2 ** 30).toBe(10 * 4 * 8 * 2);
    expect(first.result.tensorsLeaked).toBe(0);
    expect(first.result.loadingShare).toBeGreaterThan(0);
    expect(first.result.loadingShare).toBeLessThan(1);
    expect(first.out).toMatch(/peak RSS [\d.]+ GiB \(target ≤ 3 GB/);
    const again = scale(dir); // reuses the files and stores
    expect(again.out).not.toContain('wrote the question and annotation files');
    expect(again.out).not.toContain('writing train features');
    expect(again.result.questions).toBe(first.result.questions);
  });
});
