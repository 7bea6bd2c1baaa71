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
      log: () => {},
    });
    expect(rows.map((r) => r.fusion)).toEqual(['mfb', 'lowrank', 'concat']);
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
    expect(table).toMatch(/^fusion\s+overall/);
  });
});
