// Answer normalisation exactly as the official VQA evaluation (GT-Vision-Lab/VQA, 2021) does it,
// plus its pre-2021 variant; test/official_eval.test.ts checks it against the official outputs (test/fixtures/vqa-eval-normalization.json).
import { CONTRACTIONS } from './contractions.ts';

/** Python's str.isspace set (Python 2.7, so U+180E too); JavaScript's \s differs. */
const PY_SPACE = '\t\n\v\f\r \u001c\u001d\u001e\u001f\u0085\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000';
const LEADING_TRAILING = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');
const SPACE_RUNS = new RegExp(`[${PY_SPACE}]+`);

function pyStrip(s: string): string {
  return s.replace(LEADING_TRAILING, '');
}

function pySplit(s: string): string[] {
  return pyStrip(s)
    .split(SPACE_RUNS)
    .filter((t) => t !== '');
}

/** Lower case one code point at a time (Python 2's simple case mapping). */
export function pyLower(s: string): string {
  let out = '';
  for (const ch of s) {
    if (ch === '\u0130') out += 'i';
    else {
      const lower = ch.toLowerCase();
      out += [...lower].length === 1 ? lower : ch;
    }
  }
  return out;
}

/** Always applied to answers and predictions: \n and \t become spaces, then strip. */
export function cleanWhitespace(s: string): string {
  return pyStrip(s.replace(/\n/g, ' ').replace(/\t/g, ' '));
}

const PUNCTUATION = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'];
const COMMA_IN_NUMBER = /[0-9],[0-9]/;
const MAX_PERIODS_DELETED = 32; // the official code passes re.UNICODE (= 32) as re.sub's count

export function processPunctuation(t: string): string {
  const commaInNumber = COMMA_IN_NUMBER.test(t);
  let out = t;
  for (const p of PUNCTUATION) {
    // Delete-or-replace is decided per character, always on the original string.
    const remove = commaInNumber || t.includes(`${p} `) || t.includes(` ${p}`);
    out = out.split(p).join(remove ? '' : ' ');
  }
  let deleted = 0;
  return out.replace(/\.(?![0-9])/g, (m) => (deleted++ < MAX_PERIODS_DELETED ? '' : m));
}

const NUMBERS: Record<string, string> = { none: '0', zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9', ten: '10' };
const ARTICLES = new Set(['a', 'an', 'the']);

export function processDigitArticle(t: string): string {
  const kept: string[] = [];
  for (const token of pySplit(pyLower(t))) {
    const word = Object.hasOwn(NUMBERS, token) ? NUMBERS[token]! : token;
    if (!ARTICLES.has(word)) kept.push(word);
  }
  return kept.map((w) => (Object.hasOwn(CONTRACTIONS, w) ? CONTRACTIONS[w]! : w)).join(' ');
}

/** Full normalisation, used to build the answer vocabulary. */
export function normalizeAnswer(answer: string): string {
  return processDigitArticle(processPunctuation(cleanWhitespace(answer)));
}
