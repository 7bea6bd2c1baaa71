import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { summarize, vqaAccuracy } from '../src/eval/accuracy.ts';
import { cleanWhitespace, processDigitArticle, processPunctuation, pyLower } from '../src/data/normalize.ts';

// 490 strings as the official (Python 2.7) code normalises them (from shared/reference).
const TABLE = path.resolve('test', 'fixtures', 'vqa-eval-normalization.json');
const rows = (JSON.parse(fs.readFileSync(TABLE, 'utf8')) as { items: [string, string, string, string][] }).items;

describe('official answer normalisation', () => {
  it('reproduces every row of the official normalisation table', () => {
    expect(rows.length).toBe(490);
    const wrong: string[] = [];
    for (const [input, cleaned, punct, full] of rows) {
      const c = cleanWhitespace(input);
      const p = processPunctuation(c);
      const f = processDigitArticle(p);
      if (c !== cleaned || p !== punct || f !== full) wrong.push(JSON.stringify([input, c, p, f]));
    }
    expect(wrong).toEqual([]);
  });

  it('decides delete-or-replace per character on the original string', () => {
    expect(processPunctuation('x;-y-z')).toBe('x  y z');
    expect(processPunctuation('t-shirt -ish')).toBe('tshirt ish');
    expect(processPunctuation('x-ray, 2,000')).toBe('xray 2000');
    expect(processPunctuation('yes' + '.'.repeat(33))).toBe('yes.');
  });

  it('lowercases one code point at a time, as Python 2 does', () => {
    expect(pyLower('İ')).toBe('i');
    expect(pyLower('ΣΣ')).toBe('σσ');
    expect(pyLower('CAFÉ')).toBe('café');
  });
});

describe('official scoring', () => {
  const ten = (a: string) => Array(10).fill(a);

  it('skips normalisation when all ten answers agree (the gate)', () => {
    expect(vqaAccuracy('Yes', ten('yes'))).toBe(0);
    expect(vqaAccuracy('yes.', ten('yes'))).toBe(0);
    expect(vqaAccuracy(' yes ', ten('yes'))).toBe(1);
    expect(vqaAccuracy('red  white', ten('red white'))).toBe(0);
    expect(vqaAccuracy('red\twhite', ten('red white'))).toBe(1);
    // one annotator differing only in case opens the gate: everything is normalised
    expect(vqaAccuracy('Yes', [...Array(9).fill('yes'), 'Yes'])).toBe(1);
  });

  it("uses Python's whitespace set, not JavaScript's", () => {
    expect(vqaAccuracy('\ufeffyes', ten('yes'))).toBe(0);
    expect(vqaAccuracy('yes\u0085', ten('yes'))).toBe(1);
    expect(vqaAccuracy('yes\u001f', ten('yes'))).toBe(1);
  });

  it('averages min(1, matches/3) over the leave-one-out subsets, not min(1, count/3)', () => {
    const three = [...Array(3).fill('2'), ...Array(7).fill('3')];
    expect(vqaAccuracy('two', three)).toBeCloseTo(0.9, 12);
  });

  it('follows the pre-2021 rules with legacy', () => {
    expect(vqaAccuracy('Yes', ten('yes'), 'legacy')).toBe(1);
    expect(vqaAccuracy('Yes', ten('Yes'), 'legacy')).toBe(0);
    // ground-truth "two" can never match: the prediction becomes "2", the ground truth stays "two"
    expect(vqaAccuracy('two', ten('two'), 'legacy')).toBe(0);
    expect(vqaAccuracy('two', ten('two'), 'official')).toBe(1);
  });

  it('rounds halves away from zero on the exact binary value: a mean of 1/32 is 3.13', () => {
    const scored = Array.from({ length: 32 }, (_, i) => ({ questionId: i, questionType: 't', answerType: 'a', accuracy: i === 0 ? 1 : 0 }));
    expect(summarize(scored).overall).toBe(3.13);
  });
});
