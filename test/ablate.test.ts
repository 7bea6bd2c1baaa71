import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ablate, formatAblation } from '../src/ablate/ablate.ts';
import { selectBackend } from '../src/backend/select.ts';
import { tempDir, tinyConfig, useWasm, tinyClevr } from './helpers.ts';

let dataDir: string;

beforeAll(async () => {
  await useWasm();
  dataDir = await tinyClevr('ablate-data', { train: 16, val: 6, seed: 4, questionsPerImage: 5 });
});

describe('vqa ablate', () => {
  it('trains each fusion on the same budget and writes one table with accuracy, parameters, speed and memory', async () => {
    const out = path.join(tempDir('ablate'), 'run');
    const rows = await ablate({
      dataDir,
      outDir: out,
      config: tinyConfig({ train: { epochs: 1 } }),
      fusions: ['mfb', 'lowrank', 'concat'],
      backend: await selectBackend('wasm'),
      inAttention: false,
      log: () => {},
    });
    expect(rows.map((r) => r.fusion)).toEqual(['mfb', 'lowrank', 'concat']);
    expect(rows.map((r) => r.attentionFusion)).toEqual(['mfb', 'mfb', 'mfb']);
    for (const r of rows) {
      expect(r.val!.count).toBeGreaterThan(0);
      expect(Object.keys(r.val!.perGroup)).toContain('count');
      expect(r.samplesPerSecond).toBeGreaterThan(0);
      expect(r.peakRssMb).toBeGreaterThan(10);
    }
    // MFB holds projections of k·o per input; low-rank with the same k and o has no biases: fewer parameters.
    expect(rows[1]!.parameters).toBeLessThan(rows[0]!.parameters);
    const saved = JSON.parse(fs.readFileSync(path.join(out, 'ablation.json'), 'utf8'));
    expect(saved).toHaveLength(3);
    expect(fs.readFileSync(path.join(out, 'ablation.html'), 'utf8')).toContain('<td>lowrank</td>');
    const table = formatAblation(rows);
    expect(table.split('\n')).toHaveLength(4);
    expect(table).toMatch(/^fusion\s+image attention\s+overall/);
  });

  it('with --in-attention also scores the image regions with each fusion, except the full bilinear product', async () => {
    const out = path.join(tempDir('ablate-att'), 'run');
    const fusions = ['product', 'mfh', 'bilinear'] as const;
    const rows = await ablate({
      dataDir,
      outDir: out,
      config: tinyConfig({ train: { epochs: 1, maxStepsPerEpoch: 2 } }),
      fusions: [...fusions],
      backend: await selectBackend('wasm'),
      inAttention: true,
      log: () => {},
    });
    expect(rows.map((r) => r.attentionFusion)).toEqual(['product', 'mfh', 'mfb']);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'mfh', 'model', 'config.json'), 'utf8'));
    expect(config.model.imageAttention.fusion.kind).toBe('mfh');
    for (const r of rows) expect(Number.isFinite(r.val!.overall)).toBe(true);
    expect(() => tinyConfig({ model: { imageAttention: { k: 2, o: 8, hidden: 8, glimpses: 2, fusion: 'bilinear' } } })).toThrow(
      /imageAttention\.fusion\.kind: the full bilinear product is too large per region/,
    );
  });
});
