// Answer normalisation used by the vocabulary and the scorer. Kept in one place so the exact
// official VQA normalisation can replace it without touching its callers.
const PUNCTUATION = /[;/[\]"{}()=+\\_\-><@`,?!*]/g;

export function normalizeAnswer(answer: string): string {
  return answer
    .replace(/[\n\t]/g, ' ')
    .trim()
    .toLowerCase()
    .replace(PUNCTUATION, '')
    .replace(/\.(?!\d)/g, '')
    .split(/\s+/)
    .filter((w) => w !== 'a' && w !== 'an' && w !== 'the')
    .join(' ');
}
