import { describe, expect, it } from 'vitest';
import { applyOverrides } from '../src/cli/overrides.ts';
import { parseRunConfig } from '../src/config/config.ts';

describe('command-line overrides of a config file', () => {
  const file = { model: { d: 32, fusion: { kind: 'mfb', k: 3, o: 40 } }, train: { epochs: 4, lr: 0.01 } };

  it('keep every field of the file that no flag names, and replace those a flag gives', () => {
    const merged = applyOverrides(file, { model: { blind: true, fusion: undefined }, train: { epochs: 9, workers: undefined } });
    expect(merged).toEqual({ model: { d: 32, fusion: { kind: 'mfb', k: 3, o: 40 }, blind: true }, train: { epochs: 9, lr: 0.01 } });
    const config = parseRunConfig(merged, 'test');
    expect([config.model.d, config.model.fusion.o, config.model.blind, config.train.epochs, config.train.lr, config.train.workers]).toEqual([32, 40, true, 9, 0.01, 1]);
  });

  it('leave a file without sections to the defaults, and the file object itself unchanged', () => {
    const before = JSON.stringify(file);
    applyOverrides(file, { train: { epochs: 1 } });
    expect(JSON.stringify(file)).toBe(before);
    expect(parseRunConfig(applyOverrides({}, { train: { epochs: 2 } }), 'test').train.epochs).toBe(2);
  });
});
