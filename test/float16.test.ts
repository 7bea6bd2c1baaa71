import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AnswerVocab } from '../src/data/answers.ts';
import { QuestionTokenizer } from '../src/language/tokenizer.ts';
import { toFloat16Bits } from '../src/nn/float16.ts';
import { VqaModel } from '../src/model/vqa_model.ts';
import type { ModelCard } from '../src/model/checkpoint.ts';
import { tempDir, tinyConfig, useWasm } from './helpers.ts';

beforeAll(useWasm);

describe('float16 weights', () => {
  it('encodes the IEEE half-precision bit patterns', () => {
    expect(toFloat16Bits(0)).toBe(0x0000);
    expect(toFloat16Bits(-0)).toBe(0x8000);
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(-2)).toBe(0xc000);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(1e6)).toBe(0x7c00);
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c01); // a tie rounds up in magnitude
    expect(toFloat16Bits(Number.NaN) & 0x7c00).toBe(0x7c00);
  });

  it('round-trips a model through a float16 folder within half-precision error', async () => {
    const model = new VqaModel(tinyConfig(), QuestionTokenizer.build(['is there a circle']).files, new AnswerVocab(['yes', 'no', '2']));
    const dir = path.join(tempDir('f16'), 'm');
    await model.save(dir, { name: 'f16', epochs: 1 } as ModelCard, {}, true);
    const { model: loaded } = VqaModel.load(dir);
    for (const [name, v] of model.net.store.entries()) {
      const a = v.dataSync();
      const b = loaded.net.store.get(name).dataSync();
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), name).toBeLessThanOrEqual(Math.abs(a[i]!) * 2 ** -11 + 6e-8);
    }
    model.dispose();
    loaded.dispose();
  });
});
