import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scoreResultsFile } from '../src/eval/score_files.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir('score');
const header = { info: {}, task_type: 'Open-Ended', data_type: 'mscoco', data_subtype: 'val2014', license: {} };
const answers = (list: string[]) => list.map((answer, i) => ({ answer, answer_confidence: 'yes', answer_id: i + 1 }));
const annotations = [
  { question_id: 11, image_id: 1, question_type: 'what color', answer_type: 'other', answers: answers([...Array(9).fill('red'), 'Red']) },
  { question_id: 12, image_id: 1, question_type: 'how many', answer_type: 'number', answers: answers([...Array(2).fill('2'), ...Array(8).fill('3')]) },
  { question_id: 13, image_id: 2, question_type: 'is there', answer_type: 'yes/no', answers: answers(Array(10).fill('yes')) },
];
const qFile = path.join(dir, 'q.json');
const aFile = path.join(dir, 'a.json');
fs.writeFileSync(qFile, JSON.stringify({ ...header, questions: annotations.map((a) => ({ question_id: a.question_id, image_id: a.image_id, question: '?' })) }));
fs.writeFileSync(aFile, JSON.stringify({ annotations }));

function results(name: string, content: unknown): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, JSON.stringify(content));
  return f;
}

describe('scoring a results file', () => {
  it('gives the official per-question, per-type and overall numbers', () => {
    const r = results('ok.json', [
      { question_id: 11, answer: 'Red' },
      { question_id: 12, answer: 'two' },
      { question_id: 13, answer: 'Yes' },
    ]);
    const { report, perQuestion, warnings } = scoreResultsFile(qFile, aFile, r, 'official');
    // 11: the gate is open (Red/red), "Red" → "red" matches all 10 → 100; 12: 2 of 10 → 60; 13: gate closed, "Yes" ≠ "yes" → 0
    expect(perQuestion).toEqual({ '11': 100, '12': 60, '13': 0 });
    expect(report.overall).toBe(53.33);
    expect(report.perAnswerType).toEqual({ number: 60, other: 100, 'yes/no': 0 });
    expect(warnings).toEqual([]);
    expect(scoreResultsFile(qFile, aFile, r, 'legacy').perQuestion['13']).toBe(100);
  });

  it('uses the last of duplicated ids, with a warning', () => {
    const r = results('dup.json', [
      { question_id: 11, answer: 'blue' },
      { question_id: 12, answer: '3' },
      { question_id: 13, answer: 'yes' },
      { question_id: 11, answer: 'red' },
    ]);
    const { perQuestion, warnings } = scoreResultsFile(qFile, aFile, r, 'official');
    expect(perQuestion['11']).toBe(100);
    expect(warnings.join()).toMatch(/duplicated question_id 1 \(first: 11\)/);
  });

  it('refuses results that do not cover the annotations exactly, naming ids and counts', () => {
    const missing = results('missing.json', [{ question_id: 11, answer: 'red' }]);
    expect(() => scoreResultsFile(qFile, aFile, missing, 'official')).toThrow(/no answer for 2 \(first: 12, 13\) annotated question/);
    const extra = results(
      'extra.json',
      [11, 12, 13, 99].map((id) => ({ question_id: id, answer: 'x' })),
    );
    expect(() => scoreResultsFile(qFile, aFile, extra, 'official')).toThrow(/answers for 1 \(first: 99\) question\(s\) not in/);
    const strings = results('strings.json', [{ question_id: '11', answer: 'red' }]);
    expect(() => scoreResultsFile(qFile, aFile, strings, 'official')).toThrow(/must be a number, not a string: 1 \(first: "11"\)/);
    const notArray = results('obj.json', { question_id: 11, answer: 'red' });
    expect(() => scoreResultsFile(qFile, aFile, notArray, 'official')).toThrow(/must be an array/);
    const badAnswer = results('num.json', [{ question_id: 11, answer: 2 }]);
    expect(() => scoreResultsFile(qFile, aFile, badAnswer, 'official')).toThrow(/question_id 11\): field 'answer' must be a string/);
  });

  it('requires the questions file metadata the official loader needs', () => {
    const bare = path.join(dir, 'bare.json');
    fs.writeFileSync(bare, JSON.stringify({ questions: [] }));
    const r = results('any.json', []);
    expect(() => scoreResultsFile(bare, aFile, r, 'official')).toThrow(/missing top-level field\(s\) info, task_type, data_type, data_subtype, license/);
  });
});
